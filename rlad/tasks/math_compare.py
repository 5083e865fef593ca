"""When two math answers are the same object: the comparison the math verifier's workers run.

`check(gold, answer)` parses each side whole (never a fragment), compares plain numbers itself (exact
integers, a relative tolerance for decimals: math-verify rounds floats to 6 places) and leaves sets,
intervals, equations and expressions to math-verify's `verify`. `judge` first finds a completion's final
answer (`math_extract.extract_answer`), so extraction runs inside the same time limit as the comparison.

Like `math_extract.py`, this module runs inside the worker processes of `math_verify_timeout`, which
import it as a top-level module (their own folder is on ``sys.path``) without the rlad package; so it
imports its sibling the same way there (``__package__`` is empty), and from the package everywhere else.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

if __package__:  # imported as rlad.tasks.math_compare
    from rlad.tasks import math_extract
else:  # imported as a top-level module, in a math_verify_timeout worker
    import math_extract  # type: ignore[no-redef]

REL_TOL = 1e-6  # relative tolerance when either number is written with a decimal point
EXACT_INTEGERS_BELOW = 10**15  # integers smaller than this compare exactly, even when written 18.0


def check(gold: str, answer: str, timeout_seconds: int | None = None) -> bool:
    """Is `answer` the same mathematical object as `gold`? Both are LaTeX/plain text, as inside a box.

    Each side is parsed whole (scientific notation first rewritten, `math_extract.scientific_to_latex`)
    or not at all: math-verify's `parse` would fall back to a fragment (the last ``\\frac`` of an answer it
    cannot read, or the text after its last ``=``), which accepts wrong answers whose tail matches.
    Two plain numbers are compared here (`numbers_equal`): math-verify rounds floats to 6 decimal places,
    so it finds ``2.88e-19`` equal to ``2.88e-18``. Everything else (sets, intervals, equations,
    expressions with variables) goes to math-verify's `verify`. An unparseable side is only equal to the
    identical text. ``timeout_seconds`` bounds the call with math-verify's signal alarm (main thread only);
    None means no limit (the worker processes: the parent enforces one).
    """
    from math_verify.utils import timeout

    return bool(timeout(timeout_seconds)(_check)(gold, answer))


def _check(gold: str, answer: str) -> bool:
    from math_verify import grader, verify

    grader.TIMEOUT_WARNING_SHOWN = True  # its "timeout is disabled" warning: the callers own the limit

    gold_expr, gold_text = _parse_gold(gold)
    answer_expr, answer_text = parse_math(answer)
    if gold_expr is None or answer_expr is None:
        return gold_text == answer_text and bool(gold_text)
    answer_expr = _right_side(answer_expr, gold_expr)
    numeric = numbers_equal(gold_expr, answer_expr)
    if numeric is not None:
        return numeric
    if _free_symbols(answer_expr) - _free_symbols(gold_expr):
        return False  # latex2sympy reads words as products: "not 0" is n*o*t*0, which math-verify finds = 0
    return bool(verify(gold_expr, answer_expr, timeout_seconds=None))


def parse_math(text: str) -> tuple[Any, str]:
    """(sympy object or None, normalised text): the whole of `text` parsed by latex2sympy, or nothing.

    The normalisation is math-verify's for a ``\\boxed{}`` answer (units, ``\\text``, ``\\$``, thousands
    separators, ...).
    """
    from dataclasses import replace

    from latex2sympy2_extended.latex2sympy2 import latex2sympy, normalize_latex
    from math_verify import LatexExtractionConfig
    from math_verify.grader import should_treat_as_complex

    config = replace(LatexExtractionConfig().normalization_config, boxed="last")
    normalized = normalize_latex(f"\\boxed{{{math_extract.scientific_to_latex(text)}}}", config=config)
    normalized = normalized.strip()
    if not normalized:
        return None, ""
    try:
        expr = latex2sympy(
            normalized,
            is_real=not should_treat_as_complex(normalized),
            convert_degrees=False,
            normalization_config=None,
        )
    except Exception:  # latex2sympy raises many types (and bare Exception) on what it cannot read
        return None, normalized
    return expr, normalized


@lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple[Any, str]:
    return parse_math(gold)


def _right_side(answer: Any, gold: Any) -> Any:
    """``x = 5`` answers the question whose gold is ``5``: compare the right-hand side."""
    import sympy

    if (
        isinstance(answer, sympy.Eq)
        and isinstance(answer.lhs, sympy.Symbol)
        and not isinstance(gold, sympy.Eq)
    ):
        return answer.rhs
    return answer


def _free_symbols(expr: Any) -> set:
    return set(getattr(expr, "free_symbols", ()))


def numbers_equal(gold: Any, answer: Any) -> bool | None:
    """Equality of two plain numbers, or None when either is not one (math-verify decides then).

    Integers below `EXACT_INTEGERS_BELOW` compare exactly (``18 = 18.0``, ``1000000 != 1000001.0``); other
    numbers with a relative tolerance `REL_TOL` when either is written with a decimal point
    (``1/3 = 0.333333``, ``4.5e33 = 4.5000000001e33``, ``2.88e-19 != 2.88e-18``), exactly otherwise. A
    percentage ``x\\%`` also matches ``x`` (math-verify's rule: "25\\%" answers "what percent").

    >>> import sympy
    >>> numbers_equal(sympy.Rational(1, 3), sympy.Float("0.333333")), numbers_equal(sympy.Integer(3), sympy.Symbol("x"))
    (True, None)
    """
    gold_values, answer_values = _number_values(gold), _number_values(answer)
    if gold_values is None or answer_values is None:
        return None
    verdicts = [_close(g, a) for g in gold_values for a in answer_values]
    if any(v is None for v in verdicts):
        return None  # infinities and the like
    return any(verdicts)


def _number_values(expr: Any) -> list[tuple[Any, bool]] | None:
    """(exact value, written with a decimal point) of `expr`, and of x for a percentage x%; or None."""
    import sympy
    from math_verify.grader import get_pct_val

    if not isinstance(expr, sympy.Basic):
        return None
    candidates = [expr]
    percent_of = get_pct_val(expr)
    if percent_of is not None:
        candidates.append(percent_of)
    values = []
    for candidate in candidates:
        if candidate.free_symbols:  # before doit(): n*o*t*0 evaluates to the number 0
            return None
        value = candidate.doit()
        if not isinstance(value, sympy.Expr) or not value.is_number or value.free_symbols:
            return None
        decimal = bool(value.atoms(sympy.Float))
        # a written decimal is exactly what it says (0.1 is 1/10, not the nearest binary float)
        value = value.xreplace({f: sympy.Rational(str(f)) for f in value.atoms(sympy.Float)})
        values.append((value, decimal))
    return values


def _close(gold: tuple[Any, bool], answer: tuple[Any, bool]) -> bool | None:
    import sympy

    (g, g_decimal), (a, a_decimal) = gold, answer
    if not (g.is_finite and a.is_finite):
        return None
    decimal = g_decimal or a_decimal
    if g.is_Integer and a.is_Integer and max(abs(g), abs(a)) < EXACT_INTEGERS_BELOW:
        return bool(g == a)
    if g.is_Rational and a.is_Rational:
        return (
            bool(g == a)
            if not decimal
            else bool(abs(g - a) <= sympy.Rational(str(REL_TOL)) * max(abs(g), abs(a)))
        )
    digits = 50
    difference = abs(sympy.N(g - a, digits))
    scale = max(abs(sympy.N(g, digits)), abs(sympy.N(a, digits)))
    tolerance = sympy.Float(str(REL_TOL) if decimal else "1e-30", digits)
    return bool(difference <= tolerance * scale)


def judge(gold: str, completion: str, max_chars: int) -> dict[str, Any]:
    """Extract the final answer of `completion` and `check` it: the worker's whole job for one completion.

    Answers longer than `max_chars` are not parsed (the `answer` returned is cut to ``max_chars + 1``).
    """
    answer, how = math_extract.extract_answer(completion)
    if answer is None or len(answer) > max_chars:
        return {"equal": False, "status": "ok", "answer": answer and answer[: max_chars + 1], "how": how}
    return {"equal": check(gold, answer), "status": "ok", "answer": answer, "how": how}
