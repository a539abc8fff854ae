#!/usr/bin/env python3
"""Expected renders for the C# chat-template engine, from the reference implementation.

Renders every template in tests/Paged.Models.Tests/Templates/Data/*.jinja over every conversation in
conversations.json (add_generation_prompt off and on), and every snippet in snippets.json (variables from
snippet_variables.json), with Jinja2
configured the way transformers' apply_chat_template configures it (transformers/utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols extension and a
{% generation %} block, tojson = json.dumps(ensure_ascii=False, ...), raise_exception and strftime_now globals,
and the variables messages, tools (None without tools), documents (None), add_generation_prompt, bos_token,
eos_token plus per-conversation extras. strftime_now reads a fixed clock so the output is reproducible.

Run with Debian's python3-jinja2 (apt-get install python3-jinja2): /usr/bin/python3 tools/chat_template_reference.py
"""
import datetime
import json
import pathlib

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

DATA = pathlib.Path(__file__).resolve().parent.parent / "tests" / "Paged.Models.Tests" / "Templates" / "Data"
FIXED_NOW = datetime.datetime(2024, 7, 26, 9, 5, 3)
BOS, EOS = "<|bos|>", "<|eos|>"


class GenerationBlock(Extension):
    """{% generation %}...{% endgeneration %}: transformers tracks assistant spans here; the text is unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationBlock, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, variables):
    try:
        return {"output": env.from_string(source).render(**variables)}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises the bare TemplateError; Jinja's own errors are subclasses.
        kind = "raised" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
        return {"error": kind, "message": str(e)}
    except Exception as e:  # TypeError and friends from Python operators
        return {"error": type(e).__name__, "message": str(e)}


def main():
    env = make_env()
    conversations = json.loads((DATA / "conversations.json").read_text(encoding="utf-8"))
    rows = []
    for path in sorted(DATA.glob("*.jinja")):
        source = path.read_text(encoding="utf-8")
        for conv in conversations:
            for agp in (False, True):
                variables = dict(conv.get("extra", {}))
                variables.update(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                                 add_generation_prompt=agp, bos_token=BOS, eos_token=EOS)
                row = {"template": path.name, "conversation": conv["name"], "add_generation_prompt": agp}
                row.update(render(env, source, variables))
                rows.append(row)
    snippet_variables = json.loads((DATA / "snippet_variables.json").read_text(encoding="utf-8"))
    for snippet in json.loads((DATA / "snippets.json").read_text(encoding="utf-8")):
        row = {"snippet": snippet["name"]}
        row.update(render(env, snippet["template"], snippet_variables))
        rows.append(row)
    with open(DATA / "expected.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"jinja2 {jinja2.__version__}: {len(rows)} rows, {sum('error' in r for r in rows)} errors")


if __name__ == "__main__":
    main()
