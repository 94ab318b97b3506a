"""Stand-ins in the formats of three more libraries that read the Hub themselves.

Run by the execution environment's interpreter, imported by `standins_hf.py` (standard library only
at module level; each builder imports its library when it runs):

- **asteroid** (`ConvTasNet.from_pretrained("JorisCos/ConvTasNet_Libri2Mix_sepclean_8k")`): the
  repository's `pytorch_model.bin` is the dict `BaseModel.serialize()` writes (model name, its
  arguments, state dict), for a tiny model of the architecture the id names, with the number of
  sources and the sample rate the name says (`Libri3Mix` -> 3 sources, `enhsingle` -> 1, `_16k`).
- **Stable-Baselines3** (`huggingface_sb3.load_from_hub("sb3/ppo-CartPole-v1", "ppo-CartPole-v1.zip")`
  then `PPO.load`): the zip `model.save()` writes, for the algorithm and the Gymnasium environment
  the id names (the environment's real observation and action spaces), under the file name the
  real repositories use (`<algo>-<env>.zip`) and the names answers download.
- **Optimum ONNX Runtime** (`ORTModelForSeq2SeqLM.from_pretrained("optimum/t5-small")`): the
  transformers stand-in exported to ONNX beside its weights, as the `optimum/*` repositories are.
"""

import os
import re

# asteroid 0.5 models whose tiny versions build on CPU in well under a second; the arguments
# shrink every width the architecture has (the real ones are 5-30 M parameters).
ASTEROID_TINY = {
    "ConvTasNet": dict(n_blocks=2, n_repeats=1, bn_chan=16, hid_chan=32, skip_chan=16, n_filters=32),
    "DPRNNTasNet": dict(n_filters=16, bn_chan=16, hid_size=16, chunk_size=20, n_repeats=1),
    "DPTNet": dict(n_filters=16, n_heads=2, ff_hid=16, chunk_size=20, n_repeats=1),
    "DCCRNet": dict(architecture="DCCRN-CL"),
    "DCUNet": dict(architecture="DCUNet-10"),
}
ASTEROID_NAME = re.compile(r"(?:^|/)(ConvTasNet|DPRNNTasNet|DPTNet|DCCRNet|DCUNet)[_-]")

# Stable-Baselines3 repositories are named `<algo>-<env>`; sb3-contrib has the rest.
SB3_ALGOS = {"ppo": "PPO", "dqn": "DQN", "a2c": "A2C", "sac": "SAC", "td3": "TD3", "ddpg": "DDPG"}
SB3_CONTRIB_ALGOS = {"qrdqn": "QRDQN", "tqc": "TQC", "trpo": "TRPO", "ars": "ARS"}
SB3_NAME = re.compile(r"^[\w.\-]+/(" + "|".join([*SB3_ALGOS, *SB3_CONTRIB_ALGOS]) + r")-(.+)$")


def asteroid_recipe(model_id: str):
    """The asteroid model an id names, or None: `JorisCos/ConvTasNet_Libri3Mix_sepclean_8k`
    -> ConvTasNet with 3 sources at 8 kHz."""
    match = ASTEROID_NAME.search(model_id)
    if match is None:
        return None
    name = model_id.split("/")[-1]
    if "enh" in name or "DeMask" in name:
        n_src = 1
    else:
        n_src = int(m.group(1)) if (m := re.search(r"Libri(\d)Mix", name)) else 2
    return {
        "kind": "asteroid",
        "model": match.group(1),
        "n_src": n_src,
        "sample_rate": 16000 if "16k" in name else 8000,
    }


def build_asteroid(recipe: dict, out: str, seed: int = 0) -> None:
    import torch
    from asteroid import models

    torch.manual_seed(seed)
    kwargs = dict(ASTEROID_TINY[recipe["model"]], sample_rate=recipe["sample_rate"])
    if recipe["model"] not in ("DCCRNet", "DCUNet"):  # the complex-spectrum nets fix their sources
        kwargs["n_src"] = recipe["n_src"]
    model = getattr(models, recipe["model"])(**kwargs)
    torch.save(model.serialize(), os.path.join(out, "pytorch_model.bin"))


def sb3_recipe(model_id: str):
    """`sb3/dqn-MountainCar-v0` -> DQN on MountainCar-v0; `HumanCompatibleAI/ppo-seals-CartPole-v0`
    -> PPO on the seals variant's spaces (those of CartPole-v1); None for other ids."""
    match = SB3_NAME.match(model_id)
    if match is None:
        return None
    algo, env = match.groups()
    return {"kind": "sb3", "algo": algo, "env": env}


# Environments whose simulators are not in the execution environment (Atari ROMs, MuJoCo): the
# spaces their RL Zoo agents were saved with (Atari: 4 stacked 84x84 frames, channels first).
OFFLINE_SPACES = {
    "PongNoFrameskip-v4": ("atari", 6),
    "BreakoutNoFrameskip-v4": ("atari", 4),
    "SpaceInvadersNoFrameskip-v4": ("atari", 6),
    "QbertNoFrameskip-v4": ("atari", 6),
    "Ant-v3": ("box", 111, 8),
    "HalfCheetah-v3": ("box", 17, 6),
    "Hopper-v3": ("box", 11, 3),
    "Walker2d-v3": ("box", 17, 6),
    "Humanoid-v3": ("box", 376, 17),
}


def _spaces_env(spec: tuple):
    import gymnasium
    import numpy as np

    class Spaces(gymnasium.Env):
        """Only the spaces: enough to create and save an agent, not to step it."""

        if spec[0] == "atari":
            observation_space = gymnasium.spaces.Box(0, 255, (4, 84, 84), np.uint8)
            action_space = gymnasium.spaces.Discrete(spec[1])
        else:
            observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (spec[1],), np.float32)
            action_space = gymnasium.spaces.Box(-1.0, 1.0, (spec[2],), np.float32)

    return Spaces()


def _gym_env(name: str):
    import gymnasium

    if name in OFFLINE_SPACES:
        return _spaces_env(OFFLINE_SPACES[name])
    candidates = [name, name.removeprefix("seals-"), re.sub(r"^seals-(\w+)-v\d+$", r"\1-v1", name)]
    for candidate in dict.fromkeys(candidates):
        try:
            return gymnasium.make(candidate)
        except Exception:  # gymnasium raises several unrelated types for an unknown id
            continue
    raise ValueError(f"no Gymnasium environment for {name!r}")


def build_sb3(recipe: dict, out: str, files: list, seed: int = 0) -> None:
    """The model zip under the repository's conventional name and every `.zip` the code asks for
    (names with placeholders such as `{MODEL FILENAME}.zip` are not files of the real repository)."""
    if recipe["algo"] in SB3_ALGOS:
        import stable_baselines3 as lib

        cls = getattr(lib, SB3_ALGOS[recipe["algo"]])
    else:
        import sb3_contrib as lib

        cls = getattr(lib, SB3_CONTRIB_ALGOS[recipe["algo"]])
    env = _gym_env(recipe["env"])
    kwargs = {"policy_kwargs": {"net_arch": [8]}} if recipe["algo"] != "ars" else {}
    if recipe["algo"] in ("dqn", "qrdqn"):
        kwargs.update(buffer_size=100, learning_starts=0)
    policy = "CnnPolicy" if len(env.observation_space.shape or ()) == 3 else "MlpPolicy"
    if policy == "CnnPolicy":  # NatureCNN's 512 features are 1.6 M of its 1.7 M parameters
        kwargs["policy_kwargs"]["features_extractor_kwargs"] = {"features_dim": 8}
    model = cls(policy, env, seed=seed, device="cpu", **kwargs)
    names = [f"{recipe['algo']}-{recipe['env']}.zip"]
    names += [f for f in files if f.endswith(".zip") and "{" not in f and "/" not in f]
    for name in dict.fromkeys(names):
        model.save(os.path.join(out, name))


def export_onnx(template: str, task: str) -> None:
    """Export the transformers stand-in in `template` to ONNX in place (encoder / decoder files
    `ORTModelFor*.from_pretrained` reads)."""
    from optimum.exporters.onnx import main_export

    main_export(template, output=template, task=task, no_post_process=False, do_validation=False)
