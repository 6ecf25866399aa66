"""The answer-quality benchmark's parts (`benchmarks/answer_quality.py` is the entry script).

common: paths, language groups, set files, progress log; sets: question sets and the knowledge
folder's records; product: running `learncity ask --json -`; metrics: reading answers and the
figures; baselines: BM25 and plain dense on the same Chroma index; table: the printed table;
context: what the sections share; sections, conversations, uniqa, speed: the sections; cli: the
command line, the run and the JSON results.
"""
