"""Customers the simulated world's tests share."""

from playbook.types import Turn

CALM_ANALYTICAL = (
    Turn(
        "customer",
        "Hi. I can't make my flight next week and I want my money back. "
        "No rush, just want to know where I stand. What are the numbers, exactly?",
    ),
)
EMERGENCY = (
    Turn(
        "customer",
        "Hello, I need a full refund for my restricted ticket, I can't travel "
        "anymore. My dad is in hospital and I have a letter from his doctor. "
        "I'm quite concerned about this. I hope you can help me out.",
    ),
)
