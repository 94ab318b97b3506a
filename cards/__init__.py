"""Card templates (Jinja2) rendered by the toolkit: `dataset_card.md.jinja` for published datasets,
`model_card.md.jinja` for a new model card (`gorilla-bench card`, the trainers).

A package only so the templates ship inside the wheel and load with `importlib.resources`.
"""
