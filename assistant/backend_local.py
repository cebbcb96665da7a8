"""The `local` backend: llama.cpp (llama-cpp-python) behind LangChain's chat-model interface,
running the bundled Qwen2.5-Coder-1.5B-Instruct GGUF or any GGUF the user names."""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from assistant.model_files import default_cache_dir
from corpus.errors import PlanQAError


class BackendUnavailable(PlanQAError):
    """The chosen answer backend cannot be used right now; the caller may fall back."""

    exit_code = 4


_ROLES = {"system": "system", "human": "user", "ai": "assistant"}

# Reads a short prompt with the model in a child process: a llama.cpp build that does not fit
# the machine dies with SIGSEGV on the first prompt of more than one token (the unpatched
# native build of llama-cpp-python 0.3.36 with GCC 12 on an Intel AMX CPU: see
# scripts/setup.sh), and would take the app down with it.
_PROBE_SCRIPT = """
import sys
from llama_cpp import Llama
threads = int(sys.argv[2])
llm = Llama(model_path=sys.argv[1], n_ctx=256, n_threads=threads, n_threads_batch=threads,
            verbose=False)
llm.eval(llm.tokenize("北京城市总体规划实施体检报告：全市常住人口是多少？".encode("utf-8")))
"""


def _probe_key(model_path: str) -> str:
    """What the probe's verdict depends on: the llama.cpp libraries and the model file."""
    parts = [str(Path(model_path).resolve())]
    spec = importlib.util.find_spec("llama_cpp")
    files = [Path(model_path)]
    if spec is not None and spec.origin:
        files += sorted((Path(spec.origin).parent / "lib").glob("*"))
    for f in files:
        try:
            stat = f.stat()
        except OSError:
            continue
        parts.append(f"{f.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:24]


def check_llama_runs(
    model_path: str,
    threads: int,
    probe_dir: Path | None = None,
    script: str | None = None,
    timeout_s: float = 300.0,
) -> None:
    """Make sure this llama.cpp build can read a prompt on this machine, in a child process,
    once per build and model file (a marker in `probe_dir` remembers a pass). A child killed by
    a signal raises `BackendUnavailable` in plain words, so the caller falls back instead of
    crashing. Any other failure (a damaged file) is left to the real load to report, and a child
    that runs past `timeout_s` gives no verdict."""
    probe_dir = probe_dir or default_cache_dir().parent / "checks"
    marker = probe_dir / f"llama-{_probe_key(model_path)}.ok"
    if marker.exists():
        return
    try:
        done = subprocess.run(
            [sys.executable, "-c", script or _PROBE_SCRIPT, model_path, str(threads)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise BackendUnavailable(
            f"llama.cpp crashed ({name}) reading a prompt on this machine: its build does not "
            "fit this CPU. Rebuild it with `rm -rf ~/.cache/planqa/wheels "
            ".venv/.planqa-installed && bash scripts/setup.sh local` (its build is patched "
            "for this), or use --backend extractive or openai."
        )
    if done.returncode == 0:
        marker.parent.mkdir(parents=True, exist_ok=True)
        partial = marker.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(model_path + "\n", encoding="utf-8")
        os.replace(partial, marker)


def to_openai_messages(messages: list[BaseMessage]) -> list[dict]:
    return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


def _pinned_prefix_llama(llama_class):
    """A `llama_cpp.Llama` whose prompt cache does not carry one conversation into the next.

    llama-cpp-python reuses the longest token prefix a prompt shares with the previous one.
    Where that prefix ends changes the floating-point sums enough to flip a greedy answer, so
    the same question got a different answer (or a refusal) depending on the question asked
    before it. Here a new conversation (`fresh`) reuses only the tokens up to `pinned_text`, the
    instruction every answer prompt starts with, and those are computed alone once (and put
    back from a saved copy after another prompt), so the answer depends on its own prompt
    only; a prompt not starting with them is read from scratch.
    A continued conversation (the look-again turn) still reuses its own first turn.
    """

    class PinnedPrefixLlama(llama_class):
        pinned_text = ""
        fresh = False
        _pinned: list[int] | None = None
        _pinned_kv: tuple | None = None  # (buffer, size): the instruction's cache, saved

        def generate(self, tokens, *args, **kwargs):
            tokens = list(tokens)
            if self.fresh and kwargs.get("reset", True):
                self._start_fresh(tokens)
            return super().generate(tokens, *args, **kwargs)

        def _start_fresh(self, tokens: list[int]) -> None:
            pinned = self._pinned or self._pinned_tokens(tokens)
            if not pinned or tokens[: len(pinned)] != pinned or len(tokens) <= len(pinned):
                self.reset()
                return
            self._pinned = pinned
            cached = self.input_ids[: len(pinned)].tolist() if self.n_tokens >= len(pinned) else []
            if cached == pinned:
                self.n_tokens = len(pinned)
            elif not self._restore_pinned():
                self.reset()
                self.eval(pinned)
                self._save_pinned()

        def _save_pinned(self) -> None:
            """Keep a copy of the instruction's cache (a few MB), so that after another prompt
            (a follow-up's rewrite) it is put back instead of read again (~1 s here)."""
            import llama_cpp

            size = llama_cpp.llama_state_seq_get_size(self._ctx.ctx, 0)
            buffer = (ctypes.c_uint8 * size)()
            written = llama_cpp.llama_state_seq_get_data(self._ctx.ctx, buffer, size, 0)
            self._pinned_kv = (buffer, written) if 0 < written <= size else None

        def _restore_pinned(self) -> bool:
            import llama_cpp

            if self._pinned_kv is None:
                return False
            self.reset()
            self._ctx.kv_cache_seq_rm(-1, 0, -1)
            buffer, size = self._pinned_kv
            if llama_cpp.llama_state_seq_set_data(self._ctx.ctx, buffer, size, 0) != size:
                self._pinned_kv = None
                return False
            self.input_ids[: len(self._pinned)] = self._pinned
            self.n_tokens = len(self._pinned)
            return True

        def _pinned_tokens(self, tokens: list[int]) -> list[int]:
            """The tokens before the one that completes `pinned_text`; [] if it is not there.
            (The completing token may also hold the first characters after it.)"""

            def holds(n: int) -> bool:
                text = self.detokenize(tokens[:n]).decode("utf-8", errors="ignore")
                return self.pinned_text in text

            if not self.pinned_text or not holds(len(tokens)):
                return []
            low, high = 1, len(tokens)
            while low < high:
                middle = (low + high) // 2
                low, high = (low, middle) if holds(middle) else (middle + 1, high)
            return tokens[: low - 1]

    return PinnedPrefixLlama


def _ruled_out_first(tokens: list[int]):
    """A llama.cpp logits processor: `tokens` cannot be the first token generated."""
    calls = [0]

    def processor(_input_ids, scores):
        if calls[0] == 0:
            scores[tokens] = -np.inf
        calls[0] += 1
        return scores

    return processor


def _finish_chunk(finish: str | None) -> ChatGenerationChunk:
    """The empty last chunk of a reply, carrying why it ended ("stop", "length", "timeout")."""
    return ChatGenerationChunk(
        message=AIMessageChunk(content="", response_metadata={"finish_reason": finish}),
        generation_info={"finish_reason": finish},
    )


class LlamaCppChatModel(BaseChatModel):
    """A thin adapter over `llama_cpp.Llama.create_chat_completion`, streaming included.

    `timeout_s` bounds one generation: past it the stream stops and the partial text is
    returned with `finish_reason="timeout"` (llama.cpp cannot be interrupted from outside).
    `pinned_text` is the text every new conversation's prompt starts with (the answer
    prompt's instruction): the only part of the previous prompt a new one reuses.
    `avoid_start` (a keyword of `invoke`/`stream`): the reply may not begin with that text's
    first token. It asks for the model's best answer to the prompt it has just read (and
    refused), so that prompt's cache is reused, as in a continued conversation.
    """

    can_avoid_start: ClassVar[bool] = True

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    timeout_s: float = 60.0
    pinned_text: str = ""
    replay: Any = None  # an `assistant.replay.ReplayFile` (evals only), or None

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "planqa-llama-cpp"

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    def load(self) -> None:
        """Load the model now (a few seconds) instead of on the first question."""
        if self._llama is not None:
            return
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendUnavailable(
                "The local model backend is not installed (llama-cpp-python). Run "
                "`bash scripts/setup.sh local`, or use --backend extractive or openai."
            ) from exc
        # llama-cpp-python's default is half the cores for generation; on the 2-core
        # machines PlanQA targets that leaves one core idle while a user waits.
        threads = self.n_threads or os.cpu_count() or 1
        check_llama_runs(self.model_path, threads)
        try:
            self._llama = _pinned_prefix_llama(Llama)(
                model_path=self.model_path,
                n_ctx=self.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise BackendUnavailable(
                f"Could not load the model file {self.model_path}: {exc}. "
                "Check PLANQA_MODEL, or use --backend extractive."
            ) from exc
        self._llama.pinned_text = self.pinned_text

    def _completion_stream(
        self, messages: list[BaseMessage], stop: list[str] | None, avoid_start: str = ""
    ):
        self.load()
        self._llama.fresh = not avoid_start and not any(m.type == "ai" for m in messages)
        processors = None
        if avoid_start:
            first = self._llama.tokenize(avoid_start.encode(), add_bos=False, special=False)[:1]
            processors = [_ruled_out_first(first)]
        return self._llama.create_chat_completion(
            messages=to_openai_messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=stop or None,
            stream=True,
            logits_processor=processors,
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        avoid_start = kwargs.get("avoid_start", "")
        key = self._replay_key(messages, stop, avoid_start) if self.replay is not None else ""
        found = self.replay.get(key) if key else None
        if found is not None:
            text, finish = found
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
            if text and run_manager is not None:
                run_manager.on_llm_new_token(text, chunk=chunk)
            yield chunk
            yield _finish_chunk(finish)
            return
        # One generation at a time per model: llama.cpp contexts are not thread-safe.
        with self._lock:
            started = time.monotonic()
            pieces: list[str] = []
            finish = None
            for part in self._completion_stream(messages, stop, avoid_start):
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason") or finish
                if text:
                    pieces.append(text)
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager is not None:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
                if time.monotonic() - started > self.timeout_s:
                    finish = "timeout"
                    break
            if key:
                self.replay.put(key, "".join(pieces), finish)
            yield _finish_chunk(finish)

    def _replay_key(self, messages: list[BaseMessage], stop, avoid_start: str) -> str:
        from assistant.replay import replay_key

        path = Path(self.model_path)
        size = path.stat().st_size if path.exists() else -1
        return replay_key(
            f"{path.name}:{size}",
            to_openai_messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stop=list(stop or []),
            avoid_start=avoid_start,
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text, finish = [], None
        for chunk in self._stream(messages, stop, run_manager, **kwargs):
            text.append(str(chunk.message.content))
            finish = (chunk.generation_info or {}).get("finish_reason", finish)
        message = AIMessage(content="".join(text), response_metadata={"finish_reason": finish})
        return ChatResult(generations=[ChatGeneration(message=message)])
