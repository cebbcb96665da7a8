"""Scripted chat models the chain tests share."""

from __future__ import annotations


def recording(*replies: str):
    """A scripted model that answers `replies` in turn, and the list it appends each prompt's
    last message to (what the model was asked), streamed or not."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    seen: list[str] = []

    class Recording(FakeListChatModel):
        def _call(self, messages, *args, **kwargs):
            seen.append(messages[-1].content)
            return super()._call(messages, *args, **kwargs)

        def _stream(self, messages, *args, **kwargs):
            seen.append(messages[-1].content)
            yield from super()._stream(messages, *args, **kwargs)

    return Recording(responses=list(replies)), seen
