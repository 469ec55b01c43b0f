"""A command line on the page (a terminal, a console, a shell): type the command the goal
implies, read what it printed, act on that.

"Use the terminal to delete a file ending with .py", "remove the file that has no
extension using the console", "in the shell, delete the file named notes.txt", "run the
command `uptime` in the terminal". Files are found by listing them first (`ls`, else `dir`
where `ls` is unknown) and reading the listing the terminal printed after the command's
echo; the one that fits the goal's condition is removed (`rm NAME`). A command is typed key
by key (`press` with one chord per character, then Enter): a terminal reads key events, and
a field filled in one go would give it none. Progress is read back from the history (each
command rides in its intent's reason) and from the transcript on the page, so the model
stays stateless; an error the terminal prints makes it try the next file that fits.
"""

from __future__ import annotations

import re

from macrohard.contracts.agent import Intent
from macrohard.contracts.browser import PageElement
from macrohard.planner_model.web_planner.grammar import Step, clause, unq
from macrohard.planner_model.web_planner.skills.base import Ctx, PastStep, say, skill

# A prompt as terminals print it: "user$", "$", "root#", "C:\>", ">>>", "~ %".
PROMPT = re.compile(r"^\s*(?:[\w@.~:/\\-]*\s*[$#>%]|>>>)\s*$")
_CONTEXT = r"(?:terminal|console|command[- ]line|shell|command prompt|prompt)"
_DELETE = r"(?:delete|remove|erase|rm|get\s+rid\s+of)"
_FILE = r"(?:(?:a|an|the|one|any)\s+)?(?:(?:single|random)\s+)?(?:file|entry)"
# The file conditions a goal states, each as (kind, pattern with the value in group 1).
_CONDITIONS: list[tuple[str, re.Pattern[str]]] = [
    (
        "none",
        re.compile(
            r"\b(?:(?:has|having|with)\s+no|without\s+(?:an?|any)?)\s*(?:file\s+)?(?:extension|suffix)|\bextensionless\b",
            re.I,
        ),
    ),
    (
        "ext",
        re.compile(
            r"(?:ending|ends)\s+(?:with|in)\s+(?:the\s+)?(?:(?:file\s+)?(?:extension|suffix)\s+)?['\"`]?(\.?[\w.]+)",
            re.I,
        ),
    ),
    (
        "ext",
        re.compile(r"(?:extension|suffix|type)\s+(?:is\s+|of\s+)?['\"`]?(\.[\w.]+|\w+)", re.I),
    ),
    (
        "ext",
        re.compile(r"\b(?:a|an|the|one|any)\s+(\.[a-z0-9]+(?:\.[a-z0-9]+)?)\s+file", re.I),
    ),
    ("name", re.compile(r"(?:named|called)\s+['\"`]?([\w.-]+)", re.I)),
    (
        "prefix",
        re.compile(r"(?:starting|starts|beginning|begins)\s+with\s+['\"`]?([\w.-]+)", re.I),
    ),
    (
        "contains",
        re.compile(
            r"(?:containing|contains|with)\s+['\"`]?([\w.-]+)['\"`]?\s+in\s+(?:its|the)\s+name",
            re.I,
        ),
    ),
]
_RUN = re.compile(
    rf"(?:run|execute|enter|type)\s+(?:the\s+)?(?:command\s+)?(.+?)(?:\s+(?:in|into|on|at)\s+the\s+{_CONTEXT}.*)?$",
    re.I,
)
_ERROR = re.compile(
    r"\b(?:error|not found|no such|cannot|can't|denied|not recognized|unknown|invalid)\b", re.I
)
LISTERS = ("ls", "dir")


@clause(12)
def console_clause(c: str, q: list[str]) -> list[Step] | None:
    """A file operation ("delete a file ending with .py") or a command run in a terminal."""
    if re.search(rf"\b{_DELETE}\s+{_FILE}s?\b", c, re.I) or re.search(
        rf"\b{_DELETE}\b.*\bfile\b", c, re.I
    ):
        restored = unq(c, q)
        for kind, pattern in _CONDITIONS:
            if m := pattern.search(restored):
                value = m.group(1) if pattern.groups else ""
                if kind == "ext":
                    value = "." + value.lstrip(".").lower()
                return [Step(kind="console_delete", kind_hint=kind, value=value)]
        return None
    if re.search(rf"\b{_CONTEXT}\b", c, re.I) and (m := _RUN.search(c)):
        command = unq(m.group(1), q).strip("`'\" ")
        if command and not re.match(rf"^(?:the\s+)?{_CONTEXT}$", command, re.I):
            return [Step(kind="console_run", value=command)]
    return None


def fits(name: str, kind: str, value: str) -> bool:
    """Does a listed file name meet the goal's condition?"""
    bare = name.rstrip("/*@")
    if kind == "none":
        return "." not in bare.lstrip(".")
    if kind == "ext":
        return bare.lower().endswith(value) and len(bare) > len(value)
    if kind == "name":
        return bare == value
    if kind == "prefix":
        return bare.startswith(value)
    return value.lower() in bare.lower()


def keys_for(command: str) -> str:
    """The chords that type `command` and press Enter (a space is the Space key)."""
    return " ".join("Space" if ch == " " else ch for ch in command) + " Enter"


def command_line(ctx: Ctx) -> tuple[PageElement | None, PageElement | None]:
    """(the field that takes the keys, the last prompt shown): the field is the text input
    after the last prompt (a terminal's may be hidden, so the raw observation is read),
    else the only one on the page."""
    elements = ctx.observation.elements if ctx.observation is not None else ctx.view.elements
    prompt_at = max((i for i, e in enumerate(elements) if PROMPT.match(e.text)), default=-1)
    prompt = elements[prompt_at] if prompt_at >= 0 else None
    fields = [e for e in elements if e.role in ("textbox", "searchbox") and not e.disabled]
    after = [e for e in fields if elements.index(e) > prompt_at >= 0]
    if after:
        return after[0], prompt
    return (fields[0] if len(fields) == 1 else None), prompt


def run_command(ctx: Ctx, own: list[PastStep], command: str) -> Intent:
    """Type `command` and Enter into the command line; a terminal with no field of its own
    (it listens on the page) is clicked first, so that it has the keyboard."""
    field, prompt = command_line(ctx)
    keys = keys_for(command)
    if field is not None:
        return Intent(action="press", element=field.id, keys=keys, reason=f"command: {command}")
    if prompt is None:
        return Intent(action="fail", reason="no command line (prompt or input) on the page")
    if not any(h.ok and h.intent.reason.startswith("focus the terminal") for h in own):
        return Intent(
            action="click", element=prompt.id, reason=f"focus the terminal at {say(prompt)}"
        )
    return Intent(action="press", keys=keys, reason=f"command: {command}")


def commands_run(own: list[PastStep]) -> list[str]:
    return [
        h.intent.reason[len("command: ") :]
        for h in own
        if h.ok and h.intent.reason.startswith("command: ")
    ]


def output_of(ctx: Ctx, command: str) -> list[str] | None:
    """The lines the terminal printed after the last echo of `command` (None: no echo)."""
    elements = ctx.observation.elements if ctx.observation is not None else ctx.view.elements
    texts = [e.text.strip() for e in elements if e.text.strip()]
    echo = -1
    for i, t in enumerate(texts):
        # The echo: the command after a prompt of its own, or a prompt and the command.
        after_prompt = t == command and i > 0 and PROMPT.match(texts[i - 1])
        if after_prompt or re.match(rf"^\S*[$#>%]\s*{re.escape(command)}$", t):
            echo = i
    if echo < 0:
        return None
    out: list[str] = []
    for t in texts[echo + 1 :]:
        if PROMPT.match(t) or re.match(r"^\S*[$#>%]\s", t):
            break
        out.append(t)
    return out


@skill("console_run")
def console_run(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    if step.value in commands_run(own):
        return None
    return run_command(ctx, own, step.value)


@skill("console_delete")
def console_delete(step: Step, ctx: Ctx, own: list[PastStep]) -> Intent | None:
    done = commands_run(own)
    removed = [c.split(" ", 1)[1] for c in done if c.startswith("rm ")]
    if removed:
        answer = output_of(ctx, f"rm {removed[-1]}")
        if answer is None or not any(_ERROR.search(line) for line in answer):
            return None  # removed (or the transcript no longer shows it: nothing to fix)
    listers = [c for c in done if c in LISTERS]
    if not listers:
        return run_command(ctx, own, LISTERS[0])
    listing = output_of(ctx, listers[-1])
    if listing is None:
        return Intent(action="fail", reason=f"the terminal shows no output of {listers[-1]!r}")
    if any(_ERROR.search(line) for line in listing):
        unknown = [c for c in LISTERS if c not in listers]
        if unknown:
            return run_command(ctx, own, unknown[0])
        return Intent(
            action="fail", reason=f"the terminal cannot list files: {' '.join(listing)[:80]}"
        )
    names = [w for line in listing for w in line.split()]
    wanted = [n for n in names if fits(n, step.kind_hint, step.value) and n not in removed]
    if not wanted:
        what = {"none": "without an extension", "ext": f"ending with {step.value}"}.get(
            step.kind_hint, f"{step.kind_hint} {step.value}"
        )
        return Intent(
            action="fail", reason=f"no file {what} in the listing: {' '.join(names)[:80]}"
        )
    if len(removed) >= 3:
        return Intent(action="fail", reason=f"the terminal refused to remove {', '.join(removed)}")
    return run_command(ctx, own, f"rm {wanted[0]}")
