"""llm-playbook: a strong teacher model coaches a weak student chat model with a playbook."""

__version__ = "0.1.0"
