"""Chat models: one async protocol, an OpenAI-compatible backend and the call recorder."""

from playbook.chat.base import ChatModel, ChatRequest, Completion, Message, ModelError

__all__ = ["ChatModel", "ChatRequest", "Completion", "Message", "ModelError"]
