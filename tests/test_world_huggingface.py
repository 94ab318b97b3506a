"""The Hugging Face stand-in world and the world's sandbox side (sample inputs, offline web), on
real sandboxes with the execution environment: answers that use what transformers 5 removed, an
encoder-decoder, a vision model with its processor, audio models through ffmpeg, diffusers and
sentence-transformers stand-ins, the libraries that read the Hub themselves (ultralyticsplus, yolov5,
flair, SpeechBrain, huggingsound, pyannote, asteroid, Stable-Baselines3, Optimum), the legacy
`cached_download` lookup, Hub datasets, made-up ids failing as `hub_error`, and sample inputs that
every snippet finds fresh."""

from __future__ import annotations

import json

import pytest

from gorilla_rlaif.harness import SandboxConfig, Status, run_snippets
from gorilla_rlaif.harness.world import huggingface, sandbox_site

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


# ----------------------------------------------------------------------------- planning (no sandbox)


def test_usages_follow_names_bound_to_literals_and_every_loader():
    code = (
        "from transformers import pipeline, AutoTokenizer, DetrForObjectDetection\n"
        "model_id = 'facebook/detr-resnet-50'\n"
        "model = DetrForObjectDetection.from_pretrained(model_id)\n"
        "tok = AutoTokenizer.from_pretrained(pretrained_model_name_or_path='bert-base-uncased')\n"
        "qa = pipeline('question-answering', model='deepset/roberta-base-squad2')\n"
        "st = SentenceTransformer('all-MiniLM-L6-v2')\n"
        "f = hf_hub_download(repo_id='julien-c/wine-quality', filename='sklearn_model.joblib')\n"
        "m = timm.create_model('hf_hub:timm/resnet18.a1_in1k', pretrained=True)\n"
        "y = YOLO('keremberke/yolov8m-table-extraction'); local = YOLO('yolov8n.pt')\n"
        "tagger = SequenceTagger.load('flair/ner-english'); alias = SequenceTagger.load('ner')\n"
    )
    assert huggingface.usages_in_code(code) == [
        ("facebook/detr-resnet-50", "class", "DetrForObjectDetection"),
        ("bert-base-uncased", "class", "AutoTokenizer"),
        ("deepset/roberta-base-squad2", "pipeline", "question-answering"),
        ("all-MiniLM-L6-v2", "sentence_transformers", ""),
        ("julien-c/wine-quality", "file", "sklearn_model.joblib"),
        ("timm/resnet18.a1_in1k", "timm", ""),
        ("keremberke/yolov8m-table-extraction", "ultralytics", ""),  # not the local file
        ("flair/ner-english", "flair", ""),  # not flair's own alias
    ]
    assert huggingface.usages_in_code("from_pretrained('a'") == []  # unparseable: nothing


def test_plan_covers_the_api_database_and_the_answers():
    items = {item["id"]: item for item in huggingface.plan()}
    from gorilla_rlaif.data import load_api_db

    api_names = {e.api_name for e in load_api_db("huggingface", source="bundled").entries}
    # every API of the database is planned, under the id its code loads or its api_name
    missing = [name for name in api_names if name not in items and not any(i.endswith(name) for i in items)]
    assert len(missing) <= 0.02 * len(api_names), missing[:20]
    assert "question-answering" in items["deepset/roberta-base-squad2"]["tasks"]
    assert "WhisperForConditionalGeneration" in items["openai/whisper-tiny"]["classes"]
    assert "bert-base-cased" in items  # torch.hub's huggingface/pytorch-transformers entries load it


def test_sample_inputs_are_created_for_path_literals_only(tmp_path):
    code = (
        "Image.open('path/to/image.jpg'); sf.read('/path/to/audio.wav'); pd.read_csv('data.csv')\n"
        "requests.get('http://example.com/x.png'); open('notes'); load('../escape.txt')"
    )
    created = sandbox_site.materialize_inputs(
        code, str(tmp_path), str(sandbox_site.__file__).rsplit("/", 1)[0] + "/inputs", scratch_roots=()
    )
    assert sorted(created) == [str(tmp_path / "data.csv"), str(tmp_path / "path/to/image.jpg")]
    assert (tmp_path / "path/to/image.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG


def test_offline_web_answers_media_and_world_repositories_only(tmp_path):
    hub = tmp_path / "hub"
    (hub / "snakers4_silero-vad_master").mkdir(parents=True)
    (hub / "snakers4_silero-vad_master" / "hubconf.py").write_text("dependencies = []\n")
    sandbox_site._WEB.update(
        inputs=str(sandbox_site.__file__).rsplit("/", 1)[0] + "/inputs", torch_hub=str(hub)
    )
    try:
        status, _, body = sandbox_site.answer("http://images.cocodataset.org/val2017/000000039769.jpg")
        assert status == 200 and body[:3] == b"\xff\xd8\xff"
        assert sandbox_site.answer("https://huggingface.co/bert-base-uncased/resolve/main/x.png") is None
        assert sandbox_site.answer("https://example.com/page.html") is None
        # a library's demo image on GitHub (ultralytics' predict() without a source) is media too
        status, _, body = sandbox_site.answer(
            "https://github.com/ultralytics/yolov5/raw/master/data/images/zidane.jpg"
        )
        assert status == 200 and body[:3] == b"\xff\xd8\xff"
        assert sandbox_site.answer("https://github.com/someone/unknown/archive/main.zip") is None
        status, _, body = sandbox_site.answer("https://github.com/snakers4/silero-vad/zipball/master")
        assert status == 200 and body[:2] == b"PK"
        assert sandbox_site.answer("https://github.com/snakers4/silero-vad/tree/main/")[0] == 404
        branches = json.loads(
            sandbox_site.answer("https://api.github.com/repos/snakers4/silero-vad/branches")[2]
        )
        assert branches == [{"name": "master"}]
        assert sandbox_site.answer("https://github.com/made-up/repo/zipball/master") is None
    finally:
        sandbox_site._WEB.clear()


def test_pip_check_waivers_are_the_locks_and_the_built_environment_needs_no_others():
    from gorilla_rlaif.harness.world import env

    allowed = env.waivers()
    assert {("ultralytics", "opencv-python"), ("sahi", "opencv-python"), ("yolov5", "opencv-python")} <= set(
        allowed
    )
    report = (
        "ultralytics 8.0.43 requires opencv-python, which is not installed.\n"
        "flair 0.12.2 requires gensim, which is not installed.\n"
    )
    assert env.unwaived(report, allowed) == ["flair 0.12.2 requires gensim, which is not installed."]
    # the environment `make test` built passes pip check with exactly those waivers
    import subprocess

    built = env.ensure_env()
    check = subprocess.run([str(env.python(built)), "-m", "pip", "check"], capture_output=True, text=True)
    assert env.unwaived(check.stdout, allowed) == []
    assert "opencv-python" in check.stdout  # the waivers are still needed (drop them when not)


def test_planner_reads_revisions_csv_delimiters_and_rl_downloads():
    code = (
        "p = StableDiffusionImageVariationPipeline.from_pretrained('lambdalabs/sd-image-variations-diffusers', revision='v2.0')\n"
        "df = pd.read_csv(cached_download(hf_hub_url('julien-c/wine-quality', 'winequality-red.csv')), sep=';')\n"
        "zip_path = load_from_hub('sb3/ppo-CartPole-v1', 'ppo-CartPole-v1.zip')\n"
    )
    usages = huggingface.usages_in_code(code)
    assert ("lambdalabs/sd-image-variations-diffusers", "revision", "v2.0") in usages
    assert ("julien-c/wine-quality", "csvsep", ";") in usages
    assert ("sb3/ppo-CartPole-v1", "file", "ppo-CartPole-v1.zip") in usages
    # without `sep=` the CSVs are comma-separated, as the samples are: nothing to record
    assert not [u for u in huggingface.usages_in_code(code.replace("sep=';'", "")) if u[1] == "csvsep"]


def test_library_recipes_follow_the_names_of_the_repositories():
    from gorilla_rlaif.harness.world import standins_libs as libs  # standard library at module level

    assert libs.asteroid_recipe("JorisCos/ConvTasNet_Libri3Mix_sepclean_8k") == {
        "kind": "asteroid",
        "model": "ConvTasNet",
        "n_src": 3,
        "sample_rate": 8000,
    }
    assert libs.asteroid_recipe("JorisCos/DCCRNet_Libri1Mix_enhsingle_16k")["n_src"] == 1
    assert libs.asteroid_recipe("JorisCos/DCCRNet_Libri1Mix_enhsingle_16k")["sample_rate"] == 16000
    assert libs.asteroid_recipe("facebook/bart-large") is None
    assert libs.sb3_recipe("HumanCompatibleAI/ppo-seals-CartPole-v0") == {
        "kind": "sb3",
        "algo": "ppo",
        "env": "seals-CartPole-v0",
    }
    assert libs.sb3_recipe("sb3/qrdqn-PongNoFrameskip-v4")["algo"] == "qrdqn"
    assert libs.sb3_recipe("distilgpt2") is None


def test_the_pipeline_task_patch_is_installed_only_where_the_code_omits_the_task():
    assert sandbox_site.PIPELINE_WITHOUT_TASK.search("p = pipeline(model='x/y')")
    assert sandbox_site.PIPELINE_WITHOUT_TASK.search("p = pipeline( model = 'x/y')")
    assert not sandbox_site.PIPELINE_WITHOUT_TASK.search("p = pipeline('fill-mask', model='x/y')")


def test_prepared_datasets_are_seen_where_the_sandbox_mounts_them():
    from gorilla_rlaif.harness.config import SandboxConfig, sandbox_env
    from gorilla_rlaif.harness.world import standins_datasets as datasets_module

    env = sandbox_env(SandboxConfig(), marker="x")
    assert env["HF_HOME"] + "/datasets" == datasets_module.SANDBOX_DATASETS
    assert env["HF_DATASETS_CACHE"].startswith(env["HOME"])  # writable: locks and map caches


# ----------------------------------------------------------------------------- answers in real sandboxes

SNIPPETS = {
    # pipeline tasks and classes transformers 5 removed
    "qa_pipeline": (
        "from transformers import pipeline\n"
        "qa = pipeline('question-answering', model='deepset/roberta-base-squad2')\n"
        "r = qa(question='Where is the cat?', context='The cat sleeps on the warm mat in the kitchen.')\n"
        "print(sorted(r))"
    ),
    "summarization": (
        "from transformers import pipeline\n"
        "s = pipeline('summarization', model='facebook/bart-large-cnn')\n"
        "print(type(s('A long article about nothing in particular. ' * 5, max_length=12, min_length=2)[0]['summary_text']).__name__)"
    ),
    # an encoder-decoder with its sentencepiece tokenizer
    "t5": (
        "from transformers import T5Tokenizer, T5ForConditionalGeneration\n"
        "tok = T5Tokenizer.from_pretrained('t5-small')\n"
        "model = T5ForConditionalGeneration.from_pretrained('t5-small')\n"
        "ids = model.generate(**tok('translate English to German: hello', return_tensors='pt'), max_new_tokens=5)\n"
        "print(type(tok.decode(ids[0], skip_special_tokens=True)).__name__)"
    ),
    # a vision model with its processor, on a sample input and on an image from the offline web
    "vit": (
        "import requests\n"
        "from PIL import Image\n"
        "from transformers import ViTImageProcessor, ViTForImageClassification\n"
        "processor = ViTImageProcessor.from_pretrained('google/vit-base-patch16-224')\n"
        "model = ViTForImageClassification.from_pretrained('google/vit-base-patch16-224')\n"
        "for image in (Image.open('path/to/image.jpg'), Image.open(requests.get('http://images.cocodataset.org/val2017/000000039769.jpg', stream=True).raw)):\n"
        "    logits = model(**processor(images=image, return_tensors='pt')).logits\n"
        "    print(model.config.id2label[logits.argmax(-1).item()] in model.config.id2label.values())"
    ),
    # audio: a file decoded by ffmpeg in the pipeline, and Whisper's processor + generate
    "asr": (
        "from transformers import pipeline\n"
        "asr = pipeline('automatic-speech-recognition', model='facebook/wav2vec2-base-960h')\n"
        "print(sorted(asr('speech.wav')))"
    ),
    "whisper": (
        "import soundfile as sf\n"
        "from transformers import WhisperProcessor, WhisperForConditionalGeneration\n"
        "processor = WhisperProcessor.from_pretrained('openai/whisper-tiny')\n"
        "model = WhisperForConditionalGeneration.from_pretrained('openai/whisper-tiny')\n"
        "audio, rate = sf.read('audio.wav')\n"
        "features = processor(audio, sampling_rate=rate, return_tensors='pt').input_features\n"
        "ids = model.generate(features, max_new_tokens=4)\n"
        "print(len(processor.batch_decode(ids, skip_special_tokens=True)))"
    ),
    "sentence_transformers": (
        "from sentence_transformers import SentenceTransformer\n"
        "model = SentenceTransformer('sentence-transformers/all-MiniLM-L6-v2')\n"
        "print(model.encode(['a sentence', 'another one']).shape[0])"
    ),
    "diffusers": (
        "from diffusers import StableDiffusionPipeline\n"
        "pipe = StableDiffusionPipeline.from_pretrained('runwayml/stable-diffusion-v1-5')\n"
        "image = pipe('a photo of an astronaut riding a horse', num_inference_steps=2).images[0]\n"
        "image.save('astronaut.png')\n"
        "print(type(image).__name__)"
    ),
    "tabular": (
        "import json, joblib\n"
        "import pandas as pd\n"
        "model = joblib.load('model.joblib')\n"
        "features = json.load(open('config.json'))['features']\n"
        "data = pd.read_csv('data.csv')[features]\n"
        "print(len(model.predict(data)) == len(data))"
    ),
    # libraries that read the Hub themselves: ultralyticsplus lists the repository, then downloads
    # best.pt; flair downloads into a cache of its own
    "yolo": (
        "from ultralyticsplus import YOLO, render_result\n"
        "model = YOLO('keremberke/yolov8m-pothole-segmentation')\n"
        "model.overrides['conf'] = 0.25\n"
        "results = model.predict('path/to/road.jpg')\n"
        "render = render_result(model=model, image='path/to/road.jpg', result=results[0])\n"
        "print(type(render).__name__, model.overrides['task'], results[0].boxes.shape[-1])"
    ),
    "yolov5": (
        "import yolov5\n"
        "model = yolov5.load('keremberke/yolov5m-license-plate')\n"
        "model.conf = 0.25\n"
        "results = model('path/to/car.jpg', size=640)\n"
        "print(results.pred[0].shape[-1])"
    ),
    "flair": (
        "from flair.data import Sentence\n"
        "from flair.models import SequenceTagger\n"
        "tagger = SequenceTagger.load('flair/ner-english-ontonotes-large')\n"
        "sentence = Sentence('Jon went to Paris with his friend Alex on September 20th, 2022.')\n"
        "tagger.predict(sentence)\n"
        "labels = {t.split('-', 1)[-1] for t in tagger.label_dictionary.get_items()}\n"
        "print(len(sentence), 'GPE' in labels, all(s.tag in labels for s in sentence.get_spans('ner')))"
    ),
    # SpeechBrain: hyperparams.yaml + checkpoints fetched from the Hub cache into `savedir`
    "speechbrain_separation": (
        "from speechbrain.pretrained import SepformerSeparation as separator\n"
        "model = separator.from_hparams(source='speechbrain/sepformer-wsj02mix', savedir='pretrained_models/sepformer')\n"
        "est_sources = model.separate_file(path='mixture.wav')\n"
        "print(est_sources.shape[-1])"
    ),
    "speechbrain_tts": (
        "from speechbrain.pretrained import Tacotron2, HIFIGAN\n"
        "tacotron2 = Tacotron2.from_hparams(source='speechbrain/tts-tacotron2-ljspeech')\n"
        "hifi_gan = HIFIGAN.from_hparams(source='speechbrain/tts-hifigan-ljspeech')\n"
        "mel_output, mel_length, alignment = tacotron2.encode_text('Mary had a little lamb')\n"
        "print(mel_output.shape[1], hifi_gan.decode_batch(mel_output).dim())"
    ),
    "speechbrain_classifier": (
        "from speechbrain.pretrained import EncoderClassifier\n"
        "classifier = EncoderClassifier.from_hparams(source='speechbrain/lang-id-voxlingua107-ecapa', savedir='/tmp/ecapa')\n"
        "out_prob, score, index, text_lab = classifier.classify_file('speech.wav')\n"
        "print(len(text_lab), classifier.encode_batch(classifier.load_audio('speech.wav')[None]).dim())"
    ),
    # pyannote: a 2.1-era pipeline at a named revision (its segmentation model and SpeechBrain
    # embedding are other ids of the world), and a model under a pipeline built by the code
    "pyannote_diarization": (
        "from pyannote.audio import Pipeline\n"
        "pipeline = Pipeline.from_pretrained('pyannote/speaker-diarization@2.1', use_auth_token='ACCESS_TOKEN')\n"
        "diarization = pipeline('meeting_audio.wav')\n"
        "with open('audio.rttm', 'w') as rttm:\n"
        "    diarization.write_rttm(rttm)\n"
        "print(type(diarization).__name__, open('audio.rttm').read().startswith('SPEAKER'))"
    ),
    "pyannote_vad": (
        "from pyannote.audio import Model\n"
        "from pyannote.audio.pipelines import VoiceActivityDetection\n"
        "model = Model.from_pretrained('pyannote/segmentation', use_auth_token='ACCESS_TOKEN')\n"
        "pipeline = VoiceActivityDetection(segmentation=model)\n"
        "pipeline.instantiate({'onset': 0.5, 'offset': 0.5, 'min_duration_on': 0.0, 'min_duration_off': 0.0})\n"
        "print(type(pipeline('audio.wav')).__name__)"
    ),
    "made_up_pyannote": "from pyannote.audio import Pipeline\nPipeline.from_pretrained('gorilla-made-up/speaker-diarization')",
    # huggingsound: the id's wav2vec2 CTC stand-in, whose head matches its tokenizer
    "huggingsound": (
        "from huggingsound import SpeechRecognitionModel\n"
        "model = SpeechRecognitionModel('jonatasgrosman/wav2vec2-large-xlsr-53-english')\n"
        "transcriptions = model.transcribe(['/path/to/first.mp3', 'second.wav'])\n"
        "print(len(transcriptions), sorted(transcriptions[0])[-1])"
    ),
    "made_up_speechbrain": (
        "from speechbrain.pretrained import EncoderClassifier\n"
        "EncoderClassifier.from_hparams(source='gorilla-made-up/spkrec-xvect')"
    ),
    "made_up_yolo": "from ultralyticsplus import YOLO\nYOLO('gorilla-made-up/yolov8m-detection')",
    "made_up_yolov5": "import yolov5\nyolov5.load('gorilla-made-up/yolov5m-plate')",
    "made_up_flair": "from flair.models import SequenceTagger\nSequenceTagger.load('gorilla-made-up/ner-english')",
    "made_up_id": (
        "from transformers import AutoModel\nAutoModel.from_pretrained('gorilla-made-up/no-such-model')"
    ),
    "made_up_pipeline": (
        "from transformers import pipeline\npipeline('text-classification', model='gorilla-made-up/sentiment')"
    ),
    "unknown_url": "import requests\nrequests.get('https://example.com/api/data.json', timeout=5)",
    # asteroid: a tiny ConvTasNet in asteroid's serialized format, found by its legacy cache lookup
    "asteroid": (
        "from asteroid.models import ConvTasNet\nimport numpy as np\n"
        "model = ConvTasNet.from_pretrained('JorisCos/ConvTasNet_Libri3Mix_sepclean_8k')\n"
        "print(model.separate(np.zeros((1, 8000), dtype='float32')).shape[1], model.sample_rate)"
    ),
    "made_up_asteroid": (
        "from asteroid.models import ConvTasNet\nConvTasNet.from_pretrained('gorilla-made-up/ConvTasNet_Libri2Mix')"
    ),
    # Stable-Baselines3: the repository's zip, with the environment's real spaces
    "sb3": (
        "from huggingface_sb3 import load_from_hub\nfrom stable_baselines3 import DQN\n"
        "import gymnasium as gym\n"
        "model = DQN.load(load_from_hub('araffin/dqn-LunarLander-v2', 'dqn-LunarLander-v2.zip'))\n"
        "env = gym.make('LunarLander-v2')\nobs, _ = env.reset(seed=0)\n"
        "action, _ = model.predict(obs, deterministic=True)\n"
        "print(model.observation_space.shape[0], model.action_space.n, env.action_space.contains(int(action)))"
    ),
    "made_up_sb3": (
        "from huggingface_sb3 import load_from_hub\nload_from_hub('gorilla-made-up/ppo-CartPole-v1', 'ppo-CartPole-v1.zip')"
    ),
    # Optimum: the stand-in's ONNX export, run by ONNX Runtime inside a transformers pipeline
    "optimum": (
        "from transformers import AutoTokenizer, pipeline\n"
        "from optimum.onnxruntime import ORTModelForSeq2SeqLM\n"
        "tokenizer = AutoTokenizer.from_pretrained('optimum/t5-small')\n"
        "model = ORTModelForSeq2SeqLM.from_pretrained('optimum/t5-small')\n"
        "out = pipeline('translation_en_to_fr', model=model, tokenizer=tokenizer)('A house with a garden.')\n"
        "print(type(model).__name__, sorted(out[0]))"
    ),
    # the legacy `cached_download(hf_hub_url(...))` lookup, and a CSV in the delimiter the code reads
    "legacy_download": (
        "from huggingface_hub import hf_hub_url, cached_download\nimport joblib\nimport pandas as pd\n"
        "model = joblib.load(cached_download(hf_hub_url('julien-c/wine-quality', 'sklearn_model.joblib')))\n"
        "df = pd.read_csv(cached_download(hf_hub_url('julien-c/wine-quality', 'winequality-red.csv')), sep=';')\n"
        "X = df.drop(['quality'], axis=1)\nprint(len(model.predict(X[:3])), df.shape[1] > 2)"
    ),
    "made_up_legacy": (
        "from huggingface_hub import hf_hub_url, cached_download\n"
        "cached_download(hf_hub_url('gorilla-made-up/wine', 'sklearn_model.joblib'))"
    ),
    # `pipeline(model=...)` without a task: the Hub's pipeline_tag, from the world
    "pipeline_without_task": (
        "from transformers import pipeline\nclassifier = pipeline(model='martin-ha/toxic-comment-model')\n"
        "print(classifier.task, sorted(classifier('This is a comment.')[0]))"
    ),
    # Hub datasets: prepared in datasets' cache layout, read-only underneath, writable for `map`
    "dataset": (
        "from datasets import load_dataset\nimport soundfile as sf\n"
        "ds = load_dataset('hf-internal-testing/librispeech_asr_dummy', 'clean', split='validation')\n"
        "audio = ds[0]['audio']\nlengths = ds.map(lambda x: {'n': len(x['text'])})\n"
        "xvectors = load_dataset('Matthijs/cmu-arctic-xvectors', split='validation')\n"
        "print(audio['sampling_rate'], sf.read(ds[0]['file'])[1], lengths[0]['n'] > 0, len(xvectors[7306]['xvector']))"
    ),
    # the Hub's answer for an id outside the world: RepositoryNotFoundError (so `hub_error`)
    "made_up_pipeline_task": (
        "from transformers import pipeline\nfrom transformers.pipelines import get_task\n"
        "classifier = pipeline(model='martin-ha/toxic-comment-model')\nget_task('gorilla-made-up/sentiment')"
    ),
    "made_up_dataset": "from datasets import load_dataset\nload_dataset('gorilla-made-up/speech', split='train')",
    # a diffusers pipeline at the revision the answer names
    "image_variation": (
        "from diffusers import StableDiffusionImageVariationPipeline\nfrom PIL import Image\n"
        "pipe = StableDiffusionImageVariationPipeline.from_pretrained(\n"
        "    'lambdalabs/sd-image-variations-diffusers', revision='v2.0')\n"
        "out = pipe(Image.open('path/to/image.jpg'), guidance_scale=3, num_inference_steps=2)\n"
        "print(type(out['images'][0]).__name__)"
    ),
    # the snippet's writes do not reach the next snippet: the sample is fresh again
    "overwrite_sample": "open('path/to/image.jpg', 'wb').write(b'overwritten')\nprint('done')",
    "sample_again": "from PIL import Image\nprint(Image.open('path/to/image.jpg').size)",
}


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_answers_run_against_the_huggingface_world(backend, tmp_path):
    config = SandboxConfig(backend=backend, workers=1, timeout_s=120)
    results = run_snippets(
        [{"id": k, "code": v} for k, v in SNIPPETS.items()], config, output=tmp_path / "r.jsonl"
    )
    by_id = {r.id: r for r in results}
    for name in SNIPPETS:
        if name.startswith(("made_up", "unknown")):
            continue
        assert by_id[name].status is Status.ok, (
            name,
            by_id[name].error_type,
            by_id[name].error_message,
            by_id[name].traceback,
        )
    assert by_id["qa_pipeline"].stdout.strip() == "['answer', 'end', 'score', 'start']"
    assert by_id["summarization"].stdout.strip() == "str"
    assert by_id["vit"].stdout.split() == ["True", "True"]
    assert by_id["asr"].stdout.strip() == "['text']"
    assert by_id["whisper"].stdout.strip() == "1"
    assert by_id["sentence_transformers"].stdout.strip() == "2"
    assert by_id["diffusers"].stdout.strip() == "Image"
    assert by_id["tabular"].stdout.strip() == "True"
    assert by_id["sample_again"].stdout.strip() == "(224, 224)"
    assert by_id["yolo"].stdout.split()[-3:] == ["Image", "segment", "6"]
    assert by_id["yolov5"].stdout.split()[-1] == "6"  # x1 y1 x2 y2 score class
    assert by_id["flair"].stdout.split()[-3:] == ["14", "True", "True"]  # OntoNotes' tag set
    assert by_id["speechbrain_separation"].stdout.split()[-1] == "2"  # two speakers
    assert by_id["speechbrain_tts"].stdout.split()[-2:] == ["80", "3"]  # 80 mel channels; waveforms
    assert by_id["speechbrain_classifier"].stdout.split()[-2:] == ["1", "3"]
    assert by_id["huggingsound"].stdout.split()[-2:] == ["2", "transcription"]
    assert by_id["pyannote_diarization"].stdout.split()[-2:] == ["Annotation", "True"]
    assert by_id["pyannote_vad"].stdout.split()[-1] == "Annotation"
    assert by_id["asteroid"].stdout.split()[-2:] == ["3", "8000"]  # Libri3Mix: three sources, 8 kHz
    assert by_id["sb3"].stdout.split()[-3:] == ["8", "4", "True"]  # LunarLander's spaces
    assert by_id["optimum"].stdout.split()[0] == "ORTModelForSeq2SeqLM"
    assert by_id["optimum"].stdout.strip().endswith("['translation_text']")
    assert by_id["legacy_download"].stdout.split() == ["3", "True"]
    assert by_id["pipeline_without_task"].stdout.split()[0] == "text-classification"
    assert by_id["dataset"].stdout.split() == ["16000", "16000", "True", "512"]
    assert by_id["image_variation"].stdout.strip() == "Image"
    for name in (
        "made_up_id",
        "made_up_pipeline",
        "unknown_url",
        "made_up_yolo",
        "made_up_yolov5",
        "made_up_flair",
        "made_up_speechbrain",
        "made_up_pyannote",
        "made_up_asteroid",
        "made_up_sb3",
        "made_up_legacy",
        "made_up_dataset",
        "made_up_pipeline_task",
    ):
        assert by_id[name].status is Status.hub_error, (
            name,
            by_id[name].error_type,
            by_id[name].error_message,
        )
