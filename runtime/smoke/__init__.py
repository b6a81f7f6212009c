"""``mldp smoke``: prove a deployed stack works, end to end, on a handful of files of its own.

After ``cdk deploy``, synthesis, cdk-nag and the moto tests have said all they can; what is left (real Glue
execution, IAM, the network path from the jobs to RDS, the bundled code and wheels) only a real run can show.
Smoke uploads a few files under a unique raw prefix, runs the lister and the processor through the Glue API,
checks in S3 what only a working deployment produces, prints a verdict and removes its objects.

Modules: :mod:`.plan` (the files and what must become of them), :mod:`.target` (the stack outputs and the AWS
clients), :mod:`.glue_runs` (start and watch a job run), :mod:`.verify` (observe, check, clean up) and
:mod:`.runner` (the whole run and its report). This package runs on a laptop or in CI (Python 3.11), never on
Glue: the command module imports it only inside its handler.
"""

from __future__ import annotations
