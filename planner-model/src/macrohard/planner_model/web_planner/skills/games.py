"""Small board games where the goal is a legal winning (or blocking) move: a grid of cells
read off the page, each empty or holding a mark, solved by search.

"Playing as 'X', win the game", "block O from winning" (noughts and crosses and its kin): the
board is the largest square grid of equal, text-less boxes (the observer reports framed cells
and what an image in a cell shows, "x" or "o"); a line is a full row, column or diagonal. On a
3x3 board every continuation is searched for the move with the best chance of a win against a
casual opponent (a win is never missed, a loss always blocked); on a larger one: win now,
else block, else the free cell nearest the centre.
"""

from __future__ import annotations

import re
from functools import cache

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause
from macrohard.planner_model.web_planner.page import PageView
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, skill

_AS = re.compile(r"play(?:ing)?\s+as\s+['\"]?([a-z])['\"]?\b.*\b(win|block)\b", re.I)
_GOAL = re.compile(r"\b(win|block)\b.*\b(game|board|three in a row)\b", re.I)
MARKS = {"x": "x", "cross": "x", "o": "o", "circle": "o", "nought": "o", "0": "o"}

Board = tuple[str, ...]  # row by row: "x", "o" or "" for a free cell
# How often the opponent takes a win (else a block) it has, rather than any free cell.
CASUAL = 0.5


@clause(15)
def game_clause(c: str, q: list[str]) -> list[Step] | None:
    if m := _AS.search(c):
        return [Step(kind="board_game", value=m.group(1).lower(), kind_hint=m.group(2).lower())]
    if m := _GOAL.search(c):
        return [Step(kind="board_game", value="x", kind_hint=m.group(1).lower())]
    return None


def read_board(view: PageView) -> tuple[list[PageElement], int] | None:
    """The cells of the largest square grid of equal boxes, row by row, and its side."""
    groups: dict[tuple[int, int], list[PageElement]] = {}
    for e in view.elements:
        if e.shape == "box" and e.box is not None and not e.text:
            groups.setdefault((round(e.box.w / 4), round(e.box.h / 4)), []).append(e)
    for cells in sorted(groups.values(), key=len, reverse=True):
        side = round(len(cells) ** 0.5)
        if side < 3 or side * side != len(cells):
            continue
        rows = sorted(cells, key=lambda e: (e.box.y if e.box else 0, e.box.x if e.box else 0))
        return rows, side
    return None


def mark_of(e: PageElement) -> str:
    return MARKS.get((e.name or e.text or "").strip().lower(), "")


def lines(side: int) -> list[list[int]]:
    rows = [[r * side + c for c in range(side)] for r in range(side)]
    cols = [[r * side + c for r in range(side)] for c in range(side)]
    diagonals = [
        [i * side + i for i in range(side)],
        [i * side + side - 1 - i for i in range(side)],
    ]
    return rows + cols + diagonals


def winner(board: Board, side: int) -> str:
    for line in lines(side):
        first = board[line[0]]
        if first and all(board[i] == first for i in line):
            return first
    return ""


def best_move(board: Board, side: int, me: str) -> int | None:
    """The free cell to mark: exact on 3x3, win/block/centre on larger boards."""
    free = [i for i, v in enumerate(board) if not v]
    if not free or winner(board, side):
        return None
    them = "o" if me == "x" else "x"
    if side == 3:
        return max(
            free,
            key=lambda i: (
                _value(_put(board, i, me), them, me),
                winner(_put(board, i, me), side) == me,  # of equal chances, the win now
                -_centre(i, side),
            ),
        )
    for who in (me, them):  # win now, else stop them winning next
        for i in free:
            if winner(_put(board, i, who), side) == who:
                return i
    return min(free, key=lambda i: _centre(i, side))


def _put(board: Board, i: int, mark: str) -> Board:
    return (*board[:i], mark, *board[i + 1 :])


def _centre(i: int, side: int) -> float:
    mid = (side - 1) / 2
    return abs(i // side - mid) + abs(i % side - mid)


@cache
def _value(board: Board, to_move: str, me: str) -> float:
    """The chance that `me` wins from here with `to_move` to play, `me` playing its best.

    The goal is a win, so a draw is worth no more than a loss. The opponent is taken to be
    a casual player, as on most pages: about half of its moves take a winning cell (else
    block ours) when there is one, the rest are any free cell. Perfect play would make
    every game a draw; against such a player the move that leaves it most ways to go
    wrong wins most often."""
    won = winner(board, 3)
    if won:
        return 1.0 if won == me else 0.0
    free = [i for i, v in enumerate(board) if not v]
    if not free:
        return 0.0
    other = "o" if to_move == "x" else "x"
    if to_move == me:
        return max(_value(_put(board, i, me), other, me) for i in free)
    wins = [i for i in free if winner(_put(board, i, to_move), 3) == to_move]
    blocks = [i for i in free if winner(_put(board, i, other), 3) == other]
    greedy = wins or blocks or free
    return sum(
        ((CASUAL / len(greedy) if i in greedy else 0.0) + (1 - CASUAL) / len(free))
        * _value(_put(board, i, to_move), other, me)
        for i in free
    )


@skill("board_game")
def board_game(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    found = read_board(ctx.view)
    if found is None:
        return Intent(action="fail", reason="no square board of cells on the page")
    cells, side = found
    if len(own) >= side * side:
        return None
    board = tuple(mark_of(e) for e in cells)
    move = best_move(board, side, step.value)
    if move is None:
        return None
    row, col = divmod(move, side)
    return Intent(
        action="click",
        element=cells[move].id,
        reason=f"{step.value} at row {row + 1}, column {col + 1} ({step.kind_hint})",
    )
