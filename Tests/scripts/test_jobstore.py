"""Tests of jobstore/*.yml: the Job shape, the placeholders, and running the rendered commands.

The structural tests need PyYAML and skip without it. Rendering here is a stand-in for
the engine's template plugin: just enough (`a.b` look-ups and the `stem` filter) to run
the two jobs' commands one after the other.
"""

import re
import unittest
from pathlib import PurePosixPath

from support import JOBSTORE, SCRIPTS, TempDirTestCase, make_zip, read_json, run

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
FILTERS = {"stem": lambda value: PurePosixPath(value).stem}

EXPECTED_VARIABLES = {
    "extract": {"vars.scripts", "path", "vars.work", "name"},
    "aggregate": {"vars.scripts", "vars.work", "record.name", "vars.group_by", "vars.value"},
}


def load(job):
    with open(JOBSTORE / f"{job}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def render(text, context):
    def substitute(match):
        expression, *filters = [part.strip() for part in match.group(1).split("|")]
        value = context
        for key in expression.split("."):
            value = value[key]
        for name in filters:
            value = FILTERS[name](value)
        return str(value)

    return PLACEHOLDER.sub(substitute, text)


@unittest.skipUnless(yaml, "PyYAML is not installed")
class JobstoreTests(TempDirTestCase):
    def test_templates_have_the_bacalhau_job_shape(self):
        for job in EXPECTED_VARIABLES:
            with self.subTest(job=job):
                spec = load(job)
                self.assertNotIn("Name", spec)  # the engine derives it
                self.assertEqual(spec["Type"], "batch")
                self.assertEqual(spec["Count"], 1)
                self.assertEqual(len(spec["Tasks"]), 1)
                task = spec["Tasks"][0]
                self.assertTrue(task["Name"])
                self.assertEqual(task["Engine"]["Type"], "process")
                self.assertEqual(task["Engine"]["Params"]["Name"], "python3")
                self.assertEqual(task["Timeouts"], {"ExecutionTimeout": 600})
                arguments = task["Engine"]["Params"]["Arguments"]
                self.assertTrue(all(isinstance(a, str) for a in arguments))
                self.assertEqual(arguments[0], f"{{{{ vars.scripts }}}}/{job}.py")

    def test_placeholders_use_only_the_documented_variables(self):
        for job, expected in EXPECTED_VARIABLES.items():
            with self.subTest(job=job):
                arguments = load(job)["Tasks"][0]["Engine"]["Params"]["Arguments"]
                used = set()
                for argument in arguments:
                    self.assertEqual(argument.count("{{"), argument.count("}}"), argument)
                    used |= {m.group(1).split("|")[0].strip() for m in PLACEHOLDER.finditer(argument)}
                self.assertEqual(used, expected)
                text = (JOBSTORE / f"{job}.yml").read_text(encoding="utf-8")
                self.assertTrue(text.startswith("#"), "a comment at the top says what the template uses")

    def test_rendered_commands_run_extract_then_aggregate(self):
        inbox = self.tmp / "in box"
        inbox.mkdir()
        name = "sales 'q1'.zip"
        archive = make_zip(inbox / name, {"part1.csv": "shop,total\nA,1\nB,2\n", "x/part2.csv": "shop,total\nA,5\n"})
        variables = {"scripts": str(SCRIPTS), "work": str(self.tmp / "work"), "group_by": "shop", "value": "total"}
        record = {"path": str(archive), "name": name, "size": archive.stat().st_size, "modified": 0}

        def command(job, context):
            params = load(job)["Tasks"][0]["Engine"]["Params"]
            return [params["Name"]] + [render(a, context) for a in params["Arguments"]]

        extract = run(command("extract", {**record, "vars": variables}))
        self.assertEqual(extract.returncode, 0, extract.stderr)
        result = {"name": "extract", "state": "Completed", "exit_code": 0, "record": record}
        aggregate = run(command("aggregate", {**result, "vars": variables}))
        self.assertEqual(aggregate.returncode, 0, aggregate.stderr)

        report = read_json(self.tmp / "work" / "sales 'q1'" / "report.json")
        self.assertEqual((report["files"], report["rows"]), (2, 3))
        self.assertEqual(report["groups"]["A"]["sum"], 6)
        self.assertEqual(report["groups"]["B"]["sum"], 2)


if __name__ == "__main__":
    unittest.main()
