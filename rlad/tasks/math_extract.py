"""Finding the final answer in a math completion, and normalising gold answers.

The answer is the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), matched with balanced braces;
failing that, the rest of the last line starting with ``####`` (GSM8K style); failing that, what follows
the last "answer is".
"""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*(.+)")
_ANSWER_IS = re.compile(r"answer is\s*:?\s*(.+)", re.IGNORECASE)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, or None.

    >>> last_boxed(r"so \\boxed{\\frac{1}{2}} or \\boxed{3}")
    '3'
    >>> last_boxed(r"\\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"\\boxed{unclosed") is None
    True
    """
    for match in reversed(list(_BOX.finditer(text))):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start:i]
    return None


def extract_answer(text: str) -> tuple[str | None, str]:
    """The final answer and how it was found (``boxed``, ``hashes``, ``answer_is`` or ``none``).

    >>> extract_answer("so 3 + 4 = 7.\\n#### 7")
    ('7', 'hashes')
    >>> extract_answer("The answer is $42$.")
    ('42', 'answer_is')
    """
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip(), "boxed"
    for pattern, how in ((_HASHES, "hashes"), (_ANSWER_IS, "answer_is")):
        found = pattern.findall(text)
        if found:
            return _tidy(found[-1]), how
    return None, "none"


def _tidy(answer: str) -> str:
    answer = answer.strip().rstrip(".").strip()
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
    return answer


def gsm8k_answer(solution: str) -> str | None:
    """The number after ``####`` in a GSM8K worked solution, without thousands separators.

    >>> gsm8k_answer("... so she makes $18.\\n#### 1,018")
    '1018'
    """
    found = _HASHES.findall(solution)
    return found[-1].strip().replace(",", "") if found else None


def normalize_gold(value: object) -> str:
    """A gold answer as text: ``27.0`` (a float) becomes ``"27"``; strings are kept (``"025"``).

    >>> normalize_gold(27.0), normalize_gold(-1.5), normalize_gold(" 025 ")
    ('27', '-1.5', '025')
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
