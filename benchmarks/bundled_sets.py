"""The nine bundled data sets the benchmarks run on, with the prompt the offline architect is
given for each (``run.py``'s quality table and ``tuning.py``'s tuned-vs-default table)."""

from __future__ import annotations

#: data set -> (source, prompt given to the offline architect)
DATASETS: dict[str, tuple[str, str]] = {
    "digits": ("sklearn:digits", "classify 8x8 images of handwritten digits"),
    "breast_cancer": ("sklearn:breast_cancer", "predict whether a breast tumour is malignant"),
    "wine": ("sklearn:wine", "classify the cultivar of a wine from its chemistry"),
    "iris": ("sklearn:iris", "classify iris flowers into their species"),
    "diabetes": ("sklearn:diabetes", "predict diabetes disease progression, a regression"),
    "sunspots": ("statsmodels:sunspots", "forecast yearly sunspot activity 11 years ahead"),
    "co2": ("statsmodels:co2", "forecast weekly CO2 concentration one year ahead"),
    "elnino": (
        "statsmodels:elnino",
        "forecast monthly El Nino sea temperature a year ahead",
    ),
    "nile": ("statsmodels:nile", "forecast the yearly Nile river flow 5 years ahead"),
}
