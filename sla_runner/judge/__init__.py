"""The judge: Recording + thresholds → Verdict. Pure: no clock, no I/O.

:mod:`.verdicts` judges a run (or a merge of runs) into a :class:`~sla_runner.verdict.Verdict`;
:mod:`.thresholds` evaluates one threshold; :mod:`.windows` says which part of a run a
threshold is judged on; :mod:`.validity` whether the generator could have changed the
verdict; :mod:`.findings` the sentences of a failed run; :mod:`.summary` the metrics a
verdict shows; :mod:`.merge` re-judges the recordings of several verdicts as one.
"""
