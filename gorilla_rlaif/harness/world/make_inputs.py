"""Write the sample inputs of the stand-in world (`inputs/`), with the execution environment's
libraries: `python make_inputs.py` (run once; the files are committed, see inputs/README.md).

Seeded and small: a 224x224 image in every format answers open, one second of 16 kHz audio in
every format they read, a 16-frame video, a CSV whose columns are the ones APIBench's tabular
answers select, the matching `config.json`, and a scikit-learn model (pickled: `joblib.load` and
`pickle.load` both read it) whose `predict` accepts any table.
"""

import json
import os
import pickle

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inputs")
rng = np.random.default_rng(0)
COLUMNS = [
    "feat_1",
    "feat_2",
    "feat_3",
    "feature_1",
    "feature_2",
    "feature_3",
    "age",
    "gender",
    "passenger_class",
    "education",
    "experience",
    "skill1",
    "skill2",
    "quality",
]


def image():
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:224, 0:224]
    rgb = np.stack([x, y, (x + y) // 2], axis=-1).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(img)
    draw.ellipse((60, 60, 160, 160), fill=(200, 40, 40))
    draw.rectangle((20, 150, 90, 210), fill=(30, 120, 220))
    for ext, fmt in (
        ("jpg", "JPEG"),
        ("png", "PNG"),
        ("gif", "GIF"),
        ("bmp", "BMP"),
        ("tiff", "TIFF"),
        ("webp", "WEBP"),
    ):
        img.save(os.path.join(HERE, f"sample.{ext}"), fmt)


def audio():
    import soundfile as sf

    sr = 16000
    t = np.arange(sr) / sr
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(sr)).astype(np.float32)
    for ext, fmt in (("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("mp3", "MP3")):
        sf.write(os.path.join(HERE, f"sample.{ext}"), wave, sr, format=fmt)


def video():
    import cv2

    for ext, fourcc in (("mp4", "mp4v"), ("avi", "MJPG")):
        writer = cv2.VideoWriter(
            os.path.join(HERE, f"sample.{ext}"), cv2.VideoWriter_fourcc(*fourcc), 8, (64, 64)
        )
        for i in range(16):
            frame = np.full((64, 64, 3), 16 * i, np.uint8)
            frame[16:48, 4 * i % 48 : 4 * i % 48 + 16] = (0, 0, 255)
            writer.write(frame)
        writer.release()


def tables():
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    data = pd.DataFrame(rng.integers(0, 5, size=(5, len(COLUMNS))), columns=COLUMNS)
    data.to_csv(os.path.join(HERE, "sample.csv"), index=False)
    data.to_csv(os.path.join(HERE, "sample.tsv"), index=False, sep="\t")
    with open(os.path.join(HERE, "sample.json"), "w") as f:
        json.dump({"features": ["feat_1", "feat_2", "feat_3"]}, f)
    model = DummyClassifier(strategy="most_frequent").fit(data[COLUMNS[:3]], data["quality"])
    with open(os.path.join(HERE, "sample.joblib"), "wb") as f:
        pickle.dump(model, f, protocol=4)
    np.save(os.path.join(HERE, "sample.npy"), rng.standard_normal(512).astype(np.float32))


def text():
    with open(os.path.join(HERE, "sample.txt"), "w") as f:
        f.write("The quick brown fox jumps over the lazy dog.\nHello world, how are you today?\n")
    with open(os.path.join(HERE, "sample.yaml"), "w") as f:
        f.write("{}\n")


if __name__ == "__main__":
    os.makedirs(HERE, exist_ok=True)
    image()
    audio()
    video()
    tables()
    text()
    for name in sorted(os.listdir(HERE)):
        print(f"{name:16s} {os.path.getsize(os.path.join(HERE, name)):>8d} bytes")
