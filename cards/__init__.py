"""Card templates (Jinja2) rendered by the toolkit: `dataset_card.md.jinja` for published datasets.

A package only so the templates ship inside the wheel and load with `importlib.resources`.
"""
