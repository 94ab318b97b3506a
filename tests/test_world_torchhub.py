"""The TorchHub stand-in world: its plan (from the API database and APIBench's answers), the built
repositories (exactly the planned entry points), and answers run in real sandboxes against it with
the execution environment: a torchvision entry, tuple-returning Silero entries, NVIDIA's SSD with
its processing utils, YOLOv5's results object, and made-up entries/repositories failing as
`hub_error`."""

from __future__ import annotations

import ast
import json

import pytest

from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets
from gorilla_rlaif.harness.world import torchhub

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


# ----------------------------------------------------------------------------- planning (no sandbox)


def test_hub_loads_reads_repo_entry_tuples_and_attributes():
    code = (
        "import torch\n"
        "name = 'silero_stt'\n"
        "model, decoder, utils = torch.hub.load(repo_or_dir='snakers4/silero-models', model=name, language='en')\n"
        "(read_batch, split_into_batches, read_audio, prepare_model_input) = utils\n"
        "ssd = torch.hub.load('NVIDIA/DeepLearningExamples:torchhub', 'nvidia_ssd').eval()\n"
        "ssd.to('cpu')\n"
        "torch.hub.load(path, 'x', source='local')\n"
    )
    loads = torchhub.hub_loads(code)
    assert loads == [
        {"repo": "snakers4/silero-models", "entry": "silero_stt", "unpack": 3, "attrs": []},
        {
            "repo": "NVIDIA/DeepLearningExamples:torchhub",
            "entry": "nvidia_ssd",
            "unpack": None,
            "attrs": ["to"],
        },
    ]
    assert torchhub.hub_loads("torch.hub.load('a/b', 'c'") == []  # unparseable: nothing


def test_plan_is_the_api_database_and_rejects_answers_outside_it():
    items = {(i["repo"], i["entry"]): i for i in torchhub.plan()}
    built = {k for k, i in items.items() if i["status"] == "build"}
    # every API of the database (94) is in the world, with the refs the code uses
    assert len(built) >= 94
    assert items[("pytorch/vision", "resnet50")]["refs"] == ["main", "v0.10.0"]
    assert items[("NVIDIA/DeepLearningExamples", "nvidia_ssd")]["refs"] == ["torchhub"]
    # companion entries that API examples load, and what answers do with results
    for companion in [
        ("NVIDIA/DeepLearningExamples", "nvidia_ssd_processing_utils"),
        ("intel-isl/MiDaS", "transforms"),
        ("huggingface/pytorch-transformers", "tokenizer"),
        ("pytorch/fairseq", "roberta.large.mnli"),
    ]:
        assert companion in built, companion
    assert items[("snakers4/silero-models", "silero_stt")]["unpack"] == [3]
    assert items[("snakers4/silero-vad", "silero_vad")]["unpack"] == [2]
    assert {"decode_results", "pick_best"} <= set(
        items[("NVIDIA/DeepLearningExamples", "nvidia_ssd_processing_utils")]["attrs"]
    )
    # answers' loads outside the database: rejected, with the reason
    rejected = {k: i["reason"] for k, i in items.items() if i["status"] == "rejected"}
    assert ("PingoLH/Pytorch-HarDNet", "harDnet68ds") in rejected
    assert "not in the API database" in rejected[("kadhiravanarasu/project-zoo", "model")]
    assert torchhub.hf_model_ids() == ["bert-base-cased"]


# ----------------------------------------------------------------------------- the built world


@pytest.fixture(scope="module")
def world():
    from gorilla_rlaif.harness.world import PARTS, ensure_part

    return ensure_part(PARTS["torchhub"])[0]


def test_world_holds_exactly_the_planned_entries(world):
    report = json.loads((world / "report.json").read_text())
    assert report["failed"] == 0, {k: v for k, v in report["items"].items() if v["status"] == "failed"}
    planned: dict[str, set[str]] = {}
    for item in json.loads((world / "plan.json").read_text()):
        if item["status"] == "build":
            planned.setdefault(item["repo"], set()).add(item["entry"])
    hub = world / "torch" / "hub"
    seen_repos = set()
    for hubconf in hub.glob("*/hubconf.py"):
        tree = ast.parse(hubconf.read_text())
        names = {
            t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
        }
        names |= {  # globals()['roberta.large'] = ...
            n.targets[0].slice.value
            for n in tree.body
            if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript)
        }
        names.discard("dependencies")
        repo = next(r for r in planned if hubconf.parent.name.startswith(r.replace("/", "_") + "_"))
        seen_repos.add(repo)
        assert names == planned[repo], hubconf
    assert seen_repos == set(planned)
    assert "harDnet68ds" not in (hub / "PingoLH_Pytorch-HarDNet_master" / "hubconf.py").read_text()
    trusted = set((hub / "trusted_list").read_text().split())
    assert {r.replace("/", "_") for r in planned} == trusted
    # one library file shared by every repository (hard links), and the world is small
    inodes = {p.stat().st_ino for p in hub.glob("*/_gorilla_torchhub.py")}
    assert len(inodes) == 1
    assert sum(p.stat().st_size for p in world.rglob("*") if p.is_file()) < 5_000_000


# ----------------------------------------------------------------------------- answers in real sandboxes

SNIPPETS = {
    "torchvision": (
        "import torch\n"
        "model = torch.hub.load('pytorch/vision:v0.10.0', 'resnet18', pretrained=True)\n"
        "model.eval()\n"
        "seg = torch.hub.load('pytorch/vision', 'deeplabv3_mobilenet_v3_large', pretrained=True).eval()\n"
        "with torch.no_grad():\n"
        "    out = model(torch.rand(1, 3, 64, 64))\n"
        "    mask = seg(torch.rand(1, 3, 64, 64))['out'][0].argmax(0)\n"
        "print(tuple(out.shape), type(model).__name__, tuple(mask.shape))"
    ),
    "silero": (
        "import torch, torchaudio\n"
        "device = torch.device('cpu')\n"
        "model, decoder, utils = torch.hub.load(repo_or_dir='snakers4/silero-models', model='silero_stt', language='en', device=device)\n"
        "(read_batch, split_into_batches, read_audio, prepare_model_input) = utils\n"
        "t = torch.linspace(0, 1, 16000)\n"
        "torchaudio.save('speech.wav', (0.3 * torch.sin(2 * 3.1416 * 220 * t)).unsqueeze(0), 16000)\n"
        "batches = split_into_batches(['speech.wav'], batch_size=10)\n"
        "output = model(prepare_model_input(read_batch(batches[0]), device=device))\n"
        "texts = [decoder(example.cpu()) for example in output]\n"
        "vad, (get_speech_timestamps, save_audio, read_audio2, VADIterator, collect_chunks) = torch.hub.load(\n"
        "    repo_or_dir='snakers4/silero-vad', model='silero_vad', force_reload=False)\n"
        "wav = torch.cat([torch.zeros(8000), read_audio2('speech.wav', sampling_rate=16000), torch.zeros(8000)])\n"
        "stamps = get_speech_timestamps(wav, vad, sampling_rate=16000)\n"
        "tts, symbols, sample_rate, example_text, apply_tts = torch.hub.load(\n"
        "    repo_or_dir='snakers4/silero-models', model='silero_tts', language='en', speaker='lj_16khz')\n"
        "audio = apply_tts(texts=[example_text], model=tts, sample_rate=sample_rate, symbols=symbols, device=device)\n"
        "print(output.shape[0], output.shape[2] == len(model.labels), type(texts[0]).__name__, len(stamps), audio[0].dim())"
    ),
    "nvidia_ssd": (
        "import torch\n"
        "from PIL import Image\n"
        "Image.new('RGB', (320, 240), (120, 80, 40)).save('street.jpg')\n"
        "ssd_model = torch.hub.load('NVIDIA/DeepLearningExamples:torchhub', 'nvidia_ssd')\n"
        "utils = torch.hub.load('NVIDIA/DeepLearningExamples:torchhub', 'nvidia_ssd_processing_utils')\n"
        "ssd_model.eval()\n"
        "inputs = [utils.prepare_input(uri) for uri in ['street.jpg']]\n"
        "tensor = utils.prepare_tensor(inputs)\n"
        "with torch.no_grad():\n"
        "    detections_batch = ssd_model(tensor)\n"
        "results_per_input = utils.decode_results(detections_batch)\n"
        "best = [utils.pick_best(results, 0.40) for results in results_per_input]\n"
        "classes = utils.get_coco_object_dictionary()\n"
        "print(tuple(tensor.shape), tuple(detections_batch[0].shape), tuple(detections_batch[1].shape), len(best[0]), len(classes))"
    ),
    "yolov5": (
        "import torch\n"
        "from PIL import Image\n"
        "Image.new('RGB', (320, 240), (10, 200, 30)).save('zidane.jpg')\n"
        "model = torch.hub.load('ultralytics/yolov5', 'yolov5s', pretrained=True)\n"
        "results = model(['zidane.jpg'])\n"
        "results.print()\n"
        "print(type(results).__name__, len(results.xyxy), results.xyxy[0].shape[1], list(results.pandas().xyxy[0].columns)[:4])"
    ),
    # force_reload: torch.hub deletes its copy and downloads GitHub's archive, served by the offline
    # web from the world (APIBench's silero-vad answers are written this way)
    "force_reload": (
        "import torch\n"
        "model, utils = torch.hub.load(repo_or_dir='snakers4/silero-vad', model='silero_vad', force_reload=True)\n"
        "print(len(utils), type(model).__name__)"
    ),
    "made_up_entry": "import torch\nmodel = torch.hub.load('pytorch/vision', 'resnet50_made_up', pretrained=True)",
    "made_up_repo": "import torch\nmodel = torch.hub.load('made-up-owner/made-up-repo', 'resnet50', pretrained=True)",
    "made_up_ref_entry": "import torch\nutils = torch.hub.load('NVIDIA/DeepLearningExamples:torchhub', 'nvidia_made_up_utils')",
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_answers_run_against_the_torchhub_world(backend, world, tmp_path):
    config = SandboxConfig(  # the default sandbox: the execution environment and the stand-in world
        backend=backend,
        workers=2,
        timeout_s=120,
        preload_modules=["torch", "torchvision", "torchaudio", "timm"],
    )
    results = run_snippets(
        [{"id": k, "code": v} for k, v in SNIPPETS.items()], config, output=tmp_path / "r.jsonl"
    )
    by_id = {r.id: r for r in results}
    for name in ("torchvision", "silero", "nvidia_ssd", "yolov5", "force_reload"):
        assert by_id[name].status is Status.ok, (
            name,
            by_id[name].error_type,
            by_id[name].error_message,
            by_id[name].stderr[-2000:],
        )
    assert by_id["torchvision"].stdout.split() == ["(1,", "1000)", "ResNet", "(64,", "64)"]
    n, labels_ok, text_type, _, audio_dim = by_id["silero"].stdout.split()
    assert (n, labels_ok, text_type, audio_dim) == ("1", "True", "str", "1")
    assert by_id["nvidia_ssd"].stdout.split()[:8] == [
        "(1,",
        "3,",
        "300,",
        "300)",
        "(1,",
        "4,",
        "8732)",
        "(1,",
    ]
    assert by_id["nvidia_ssd"].stdout.split()[-1] == "80"
    assert "Detections 1 6 ['xmin', 'ymin', 'xmax', 'ymax']" in by_id["yolov5"].stdout
    assert by_id["force_reload"].stdout.split()[0] == "5"  # (get_speech_timestamps, ..., collect_chunks)
    for name in ("made_up_entry", "made_up_repo", "made_up_ref_entry"):
        assert by_id[name].status is Status.hub_error, (
            name,
            by_id[name].error_type,
            by_id[name].error_message,
        )


def test_world_prune_deletes_other_versions_builds_and_keeps_this_ones(tmp_path, monkeypatch, capsys):
    """`gorilla-bench world prune`: builds keyed by other lock files / builders go, the ones this
    version resolves to stay (an upgrade would otherwise leave GBs behind per version)."""
    from gorilla_rlaif.cli import main
    from gorilla_rlaif.harness.world import PARTS, part_dir, part_plan
    from gorilla_rlaif.harness.world.env import env_dir

    monkeypatch.setenv("GORILLA_RLAIF_CACHE", str(tmp_path))
    current_env, current_part = env_dir(), part_dir(PARTS["torchhub"], part_plan(PARTS["torchhub"]))
    stale_env = tmp_path / "apibench-env" / "0123456789ab"
    stale_part = tmp_path / "apibench-world" / "torchhub-0123456789ab"
    half_built = tmp_path / "apibench-world" / "torchhub-ba9876543210.tmp"
    other_hub = tmp_path / "apibench-world" / "huggingface-0123456789ab"
    for d in (current_env, current_part, stale_env, stale_part, half_built, other_hub):
        d.mkdir(parents=True)
        (d / "weights.bin").write_bytes(b"x" * 5000)
    assert main("gorilla-bench", ["world", "prune", "--part", "torchhub"]) == 0
    out = capsys.readouterr().out
    assert "pruned 3 builds" in out and str(stale_part) in out
    assert current_env.is_dir() and current_part.is_dir() and other_hub.is_dir()
    assert not stale_env.exists() and not stale_part.exists() and not half_built.exists()
