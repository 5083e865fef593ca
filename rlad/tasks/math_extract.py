"""Finding the final answer in a math completion, and normalising gold answers.

The answer is the content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), matched with balanced braces;
failing that, the rest of the last line starting with ``####`` (GSM8K style); failing that, what follows
the last "answer is", but only when that is a bare mathematical answer: "The answer is not 0." or "the
answer is 3 or 4" find no answer, because a LaTeX parser reads ``not 0`` as the product ``n*o*t*0 = 0``.

Every function here is linear in the length of the text (the worker process of `math_verify_timeout`
also runs them, inside its time limit), and this file imports nothing outside the standard library.
"""

from __future__ import annotations

import re

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####[ \t]*(.+)")
_ANSWER_IS = re.compile(r"answer is[ \t]*:?[ \t]*(.+)", re.IGNORECASE)
# what may not appear in an "answer is" answer once LaTeX commands and \text{..} are removed: a word
_COMMAND = re.compile(r"\\text\s*\{[^{}]*\}|\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{2,}|n't\b", re.IGNORECASE)
# scientific notation: 4.5e33, 4.5E-3, 4.5 x 10^33, 4.5 \times 10^{33}, 4.5\cdot10^33, 4.5 * 10^33, 4.5×10^33
_E_NOTATION = re.compile(r"(?<![\w.\\])(\d+\.?\d*|\.\d+)[eE]([+-]?\d+)(?!\w|\.\d)")
_TIMES_TEN = re.compile(
    r"(?<![\w.\\])(\d+\.?\d*|\.\d+)\s*(?:x|X|\*|\u00d7|\u22c5|\\times|\\cdot)\s*10\s*\^\s*"
    r"(?:\{\s*([+-]?\d+)\s*\}|([+-]?\d+))(?!\w|\.\d)"
)


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, or None. Linear in ``len(text)``.

    One pass pairs every ``{`` with its ``}`` (a stack); the boxes are then tried from the last one. The
    naive version (scan forward from each box start) is quadratic: 14,300 unclosed boxes took minutes.

    >>> last_boxed(r"so \\boxed{\\frac{1}{2}} or \\boxed{3}")
    '3'
    >>> last_boxed(r"\\boxed{\\frac{1}{2}}")
    '\\\\frac{1}{2}'
    >>> last_boxed(r"\\boxed{unclosed") is None
    True
    """
    starts = [m.end() for m in _BOX.finditer(text)]  # index just after each box's "{"
    if not starts:
        return None
    closing: dict[int, int] = {}  # index of a "{" -> index of its "}"
    open_braces: list[int] = []
    for brace in re.finditer(r"[{}]", text):
        if brace.group() == "{":
            open_braces.append(brace.start())
        elif open_braces:
            closing[open_braces.pop()] = brace.start()
    for start in reversed(starts):
        end = closing.get(start - 1)
        if end is not None:
            return text[start:end]
    return None


def extract_answer(text: str) -> tuple[str | None, str]:
    """The final answer and how it was found (``boxed``, ``hashes``, ``answer_is`` or ``none``).

    >>> extract_answer("so 3 + 4 = 7.\\n#### 7")
    ('7', 'hashes')
    >>> extract_answer("The answer is $42$.")
    ('42', 'answer_is')
    >>> extract_answer("The answer is not 0.")
    (None, 'none')
    """
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip(), "boxed"
    found = _HASHES.findall(text)
    if found:
        return _tidy(found[-1]), "hashes"
    found = _ANSWER_IS.findall(text)
    if found:
        answer = _tidy(found[-1])
        if answer and not _WORD.search(_COMMAND.sub(" ", answer)):
            return answer, "answer_is"
    return None, "none"


def _tidy(answer: str) -> str:
    answer = answer.strip().rstrip(".").strip()
    for left, right in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if answer.startswith(left) and answer.endswith(right) and len(answer) >= len(left) + len(right):
            answer = answer[len(left) : len(answer) - len(right)].strip()
    return answer


def scientific_to_latex(answer: str) -> str:
    """Write every number in scientific notation as ``m\\times10^{k}``, the one form LaTeX parsers read.

    Without this, ``4.5e33`` parses as ``4.5 * e * 33`` (Euler's number: 403.66...) and ``4.5 x 10^33``
    as a product with a variable ``x``.

    >>> scientific_to_latex("4.5e33"), scientific_to_latex("2.88E-19")
    ('4.5\\\\times10^{33}', '2.88\\\\times10^{-19}')
    >>> scientific_to_latex("4.5 x 10^33"), scientific_to_latex("4.5\\\\cdot10^{33}")
    ('4.5\\\\times10^{33}', '4.5\\\\times10^{33}')
    >>> scientific_to_latex("3e + x_2e1")  # no exponent digits / part of a name: unchanged
    '3e + x_2e1'
    """
    answer = _E_NOTATION.sub(lambda m: f"{m.group(1)}\\times10^{{{m.group(2)}}}", answer)
    return _TIMES_TEN.sub(lambda m: f"{m.group(1)}\\times10^{{{m.group(2) or m.group(3)}}}", answer)


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
