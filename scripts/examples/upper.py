#!/usr/bin/env python3
"""An `exec` transform for Hypha (standard library only): upper-cases one text field of each record.

usage (in a workflow):  upper: { plugin: exec, from: decode, command: [python3, upper.py, name] }

Protocol (input: record, output: record): Hypha writes one JSON record per line on stdin and
waits for exactly one line back on stdout per input line: a JSON array of zero or more output
records, or {"error": "MESSAGE"} to fail that input only. stderr lines go to the node's log.
Flush after every answer: Hypha sends the next record only once it has the answer.
"""
import json
import sys

field = sys.argv[1] if len(sys.argv) > 1 else "name"
out = sys.stdout

for line in sys.stdin:
    record = json.loads(line)
    value = record.get(field)
    if not isinstance(value, str):
        answer = {"error": "the record has no text field %r" % field}
    else:
        record[field] = value.upper()
        answer = [record]
    out.write(json.dumps(answer, separators=(",", ":")) + "\n")
    out.flush()
