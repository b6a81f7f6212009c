"""The contract between the two halves of the platform: the values the runtime and the constructs must agree on.

The runtime (``runtime/``, what the Glue jobs and ``mldp`` run) and the constructs (``platform_constructs/``, what
deploys them, plus ``stacks/``) never import each other: Glue has no ``aws_cdk``, and another project may reuse the
constructs with a runtime of its own. What both must agree on lives here, once, and both halves import it:

* :mod:`platform_contract.defaults`: every default (``mldp`` options, the props' job arguments);
* :mod:`platform_contract.metrics`: the custom metrics' namespace, names, units and dimension;
* :mod:`platform_contract.environment`: what an environment name may be;
* :mod:`platform_contract.layout`: the bucket layout's default prefixes;
* :mod:`platform_contract.outputs`: the stack outputs ``mldp smoke`` reads back;
* :mod:`platform_contract.table`: the curated table's format and the Iceberg table's names.

Plain constants and a few pure functions: no dependency, no import of either half, Python 3.9-compatible (the
Python-shell lister runs on 3.9). ``platform_constructs.json_to_parquet_workflow.glue.assets`` bundles this
package beside the runtime into the Glue jobs' zip and wheel.
"""
