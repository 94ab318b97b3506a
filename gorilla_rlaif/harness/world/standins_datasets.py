"""Stand-ins for the Hub datasets APIBench code loads, in `datasets`' own cache layout.

Run by the execution environment's interpreter (datasets 2.16), imported by `standins_hf.py`.
Offline, `load_dataset("org/name", "config", split=...)` falls back to the copy a previous run left
in `HF_DATASETS_CACHE/org___name/<config>/<version>/<hash>/` (datasets' "cache" builder): dataset
info plus one Arrow file per split. Each stand-in here is written there by a real
`GeneratorBasedBuilder`, so the layout is the library's, not a copy of it.

Which datasets: a count of `load_dataset(...)` calls over the Hugging Face API database and the
answers (`huggingface.py`'s sources) finds six ids; the seventh call loads 'your_dataset', a
placeholder. Their columns, configs and splits are the real datasets' (from their dataset cards),
with few rows except where answers index far in (`cmu-arctic-xvectors[7306]`: the real 7,931 rows).
The audio and images are the world's sample inputs.
"""

import os

SAMPLE_RATE = 16000
# Where the sandbox sees the prepared datasets (HF_HOME is /cache/huggingface there: config.py).
# Audio datasets carry a `file` column with the local path of each clip, as the real ones do
# after download: those clips are written under `downloads/` and named by this path.
SANDBOX_DATASETS = "/cache/huggingface/datasets"


def _clip(cache_dir: str, inputs: str, dataset: str, name: str) -> str:
    """A copy of the sample clip under the dataset's downloads; its path as the sandbox sees it."""
    import shutil

    relative = os.path.join("downloads", "extracted", dataset, name)
    os.makedirs(os.path.dirname(os.path.join(cache_dir, relative)), exist_ok=True)
    shutil.copyfile(os.path.join(inputs, "sample.wav"), os.path.join(cache_dir, relative))
    return f"{SANDBOX_DATASETS}/{relative}"


def _audio_features(**more):
    """The columns every downloaded audio dataset starts with: the clip's local path and the
    decoded audio, then the dataset's own."""
    import datasets

    return datasets.Features(
        {"file": datasets.Value("string"), "audio": datasets.Audio(sampling_rate=SAMPLE_RATE), **more}
    )


def _audio_row(inputs: str, cache_dir: str, dataset: str, name: str, **more) -> dict:
    return {"file": _clip(cache_dir, inputs, dataset, name), "audio": _audio(inputs), **more}


def _librispeech(inputs: str, cache_dir: str) -> dict:
    import datasets

    return {
        "config": "clean",
        "splits": {"validation": 8},
        "features": _audio_features(
            text=datasets.Value("string"),
            speaker_id=datasets.Value("int64"),
            chapter_id=datasets.Value("int64"),
            id=datasets.Value("string"),
        ),
        "row": lambda i: _audio_row(
            inputs,
            cache_dir,
            "librispeech",
            f"1272-128104-{i:04d}.wav",
            text="MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES",
            speaker_id=1272,
            chapter_id=128104,
            id=f"1272-128104-{i:04d}",
        ),
    }


def _superb_er(inputs: str, cache_dir: str) -> dict:
    import datasets

    return {
        "config": "er",
        "splits": {"session1": 8},
        "features": _audio_features(label=datasets.ClassLabel(names=["neu", "hap", "ang", "sad"])),
        "row": lambda i: _audio_row(
            inputs, cache_dir, "superb_er", f"Ses01F_impro01_F{i:03d}.wav", label=i % 4
        ),
    }


def _xvectors(inputs: str, cache_dir: str) -> dict:
    import datasets
    import numpy as np

    vectors = np.random.default_rng(0).standard_normal((7931, 512)).astype("float32") * 0.05
    return {
        "config": "default",
        "splits": {"validation": len(vectors)},
        "features": datasets.Features(
            {"filename": datasets.Value("string"), "xvector": datasets.Sequence(datasets.Value("float32"))}
        ),
        "row": lambda i: {"filename": f"cmu_us_xxx_arctic-wav-arctic_a{i:04d}", "xvector": vectors[i]},
    }


def _cats_image(inputs: str, cache_dir: str) -> dict:
    import datasets

    return {
        "config": "default",
        "splits": {"test": 1},
        "features": datasets.Features({"image": datasets.Image()}),
        "row": lambda i: {"image": os.path.join(inputs, "sample.jpg")},
    }


def _audio(inputs: str) -> dict:
    with open(os.path.join(inputs, "sample.wav"), "rb") as f:
        return {"path": None, "bytes": f.read()}


DATASETS = {
    "hf-internal-testing/librispeech_asr_dummy": _librispeech,
    "patrickvonplaten/librispeech_asr_dummy": _librispeech,
    "hf-internal-testing/librispeech_asr_demo": _librispeech,
    "anton-l/superb_demo": _superb_er,
    "Matthijs/cmu-arctic-xvectors": _xvectors,
    "huggingface/cats-image": _cats_image,
}


def build_dataset(repo_id: str, cache_dir: str, inputs: str) -> None:
    """Prepare the stand-in of `repo_id` under `cache_dir` (a `HF_DATASETS_CACHE`)."""
    import datasets

    spec = DATASETS[repo_id](inputs, cache_dir)

    class StandIn(datasets.GeneratorBasedBuilder):
        BUILDER_CONFIGS = (datasets.BuilderConfig(name=spec["config"]),)

        def _info(self):
            return datasets.DatasetInfo(features=spec["features"])

        def _split_generators(self, dl_manager):
            return [
                datasets.SplitGenerator(name=name, gen_kwargs={"n": n}) for name, n in spec["splits"].items()
            ]

        def _generate_examples(self, n):
            for i in range(n):
                yield i, spec["row"](i)

    builder = StandIn(
        cache_dir=cache_dir,
        config_name=spec["config"],
        dataset_name=repo_id.split("/")[-1],
        repo_id=repo_id,
        hash="0" * 16,
    )
    builder.download_and_prepare(try_from_hf_gcs=False)  # offline: no lookup of a prepared copy


def _remove_locks(cache_dir: str) -> None:
    for base, _, files in os.walk(cache_dir):
        for name in files:
            if name.endswith(".lock"):
                os.remove(os.path.join(base, name))


def build_all(cache_dir: str, inputs: str) -> dict:
    """Every stand-in dataset; {id: "ok" | the error}."""
    import datasets

    datasets.disable_progress_bar()
    report = {}
    for repo_id in DATASETS:
        try:
            build_dataset(repo_id, cache_dir, inputs)
            report[repo_id] = "ok"
        except Exception as exc:  # reported per dataset, like the model stand-ins
            report[repo_id] = f"{type(exc).__name__}: {exc}"[:300]
    _remove_locks(cache_dir)
    return report
