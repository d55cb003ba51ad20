"""defectlab's framework-free core, in two parts:

- `shared.datasets`: the one data layer (read + validate -> index, named splits, task views, synthetic data);
- `shared.suite`: the chassis every task plugs into (recipe and run contract, task registry, CLI front door,
  record writers, provenance, output folders, errors, console set-up, framework guard).

`shared.pretrained` holds the bundled ImageNet backbones' configuration as data. Nothing here imports an ML
framework."""
