"""The `openai` backend: any OpenAI-compatible server (Ollama, vLLM, llama.cpp's server, DeepSeek,
DashScope) through langchain-openai, configured by base URL, model and API key."""

from __future__ import annotations

from langchain_core.language_models.chat_models import BaseChatModel

from assistant.backend_local import BackendUnavailable


def make_openai_chat_model(
    base_url: str,
    model: str,
    api_key: str | None = None,
    max_tokens: int = 256,
    timeout_s: float = 60.0,
    temperature: float = 0.0,
) -> BaseChatModel:
    if not base_url:
        raise BackendUnavailable(
            "The openai backend needs a server address: set PLANQA_OPENAI_BASE_URL "
            "(e.g. http://127.0.0.1:8000/v1)."
        )
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise BackendUnavailable(
            "langchain-openai is not installed; run `bash scripts/setup.sh local`."
        ) from exc
    return ChatOpenAI(
        base_url=base_url,
        model=model or "default",
        # Local servers ignore the key, but the client insists on one.
        api_key=api_key or "not-needed",
        max_tokens=max_tokens,
        timeout=timeout_s,
        max_retries=0,
        temperature=temperature,
    )
