"""The CT appearance model: Hounsfield-unit ranges of every tissue and lesion type in portal-venous CT.

Every range below is a literature value (sources in docs/phantom.md); a phantom draws one value per tissue from
its range, so contrast timing, scanner calibration and patient habitus vary between phantoms while each tissue
keeps a realistic value. All numbers are HU unless named ``*_mm``.
"""

from __future__ import annotations

import numpy as np

# Tissue ids of the internal tissue map (``Phantom.tissues``); 0 is air outside the body.
AIR, FAT, MUSCLE, CORTICAL_BONE, MARROW, LUNG, LIVER, SPLEEN, KIDNEY, AORTA, IVC, PORTAL_VEIN, \
    HEPATIC_VEIN, GI_WALL, GI_FLUID, GI_AIR, FECES, HEART, GALLBLADDER, PANCREAS, SKIN, CSF, PORTAL_TRUNK, \
    SOLID_MASS, GASTRIC_FOOD = range(25)

TISSUE_NAMES: dict[int, str] = {
    AIR: "air", FAT: "fat", MUSCLE: "muscle", CORTICAL_BONE: "cortical_bone", MARROW: "marrow", LUNG: "lung",
    LIVER: "liver", SPLEEN: "spleen", KIDNEY: "kidney", AORTA: "aorta", IVC: "ivc", PORTAL_VEIN: "portal_vein",
    HEPATIC_VEIN: "hepatic_vein", GI_WALL: "gi_wall", GI_FLUID: "gi_fluid", GI_AIR: "gi_air", FECES: "feces",
    HEART: "heart", GALLBLADDER: "gallbladder", PANCREAS: "pancreas", SKIN: "skin", CSF: "csf",
    PORTAL_TRUNK: "portal_trunk", SOLID_MASS: "solid_mass", GASTRIC_FOOD: "gastric_food",
}

#: Portal-venous phase (70 s) HU ranges ``(low, high)`` of the tissue mean.
TISSUE_HU: dict[int, tuple[float, float]] = {
    AIR: (-1000.0, -995.0),
    FAT: (-115.0, -85.0),  # subcutaneous / visceral fat: -120..-80
    MUSCLE: (45.0, 65.0),  # enhanced skeletal muscle
    CORTICAL_BONE: (650.0, 950.0),
    MARROW: (170.0, 280.0),  # cancellous vertebral bone, adult
    LUNG: (-880.0, -820.0),  # aerated lung bases
    LIVER: (95.0, 128.0),  # portal-venous liver: 100-130 (unenhanced 55-65 + 40-70 enhancement)
    SPLEEN: (100.0, 135.0),  # homogeneous in portal-venous phase, within ~10-15 HU of liver
    KIDNEY: (150.0, 200.0),  # nephrographic (homogeneous) phase begins ~80-100 s; cortex 150-200 at 70 s
    AORTA: (150.0, 210.0),  # blood pool at 70 s
    IVC: (120.0, 175.0),  # mixes enhanced renal return with unenhanced infrarenal blood
    PORTAL_VEIN: (150.0, 200.0),
    HEPATIC_VEIN: (130.0, 190.0),
    GI_WALL: (70.0, 110.0),  # enhancing mucosa / bowel wall
    GI_FLUID: (0.0, 20.0),
    GI_AIR: (-1000.0, -950.0),
    FECES: (-60.0, 20.0),  # mottled gas and stool; texture adds the mottling
    HEART: (140.0, 200.0),  # blood pool
    GALLBLADDER: (0.0, 20.0),  # bile: water density, like a cyst: the model must use shape and position
    PANCREAS: (80.0, 120.0),
    SKIN: (30.0, 60.0),
    CSF: (0.0, 15.0),
    PORTAL_TRUNK: (150.0, 200.0),
    # Confounders (not liver, can look like liver): solid extra-hepatic masses such as renal cell carcinoma,
    # adrenal tumours, GIST or lymphoma (30-130 in portal-venous phase), and a food-filled stomach (20-90).
    SOLID_MASS: (30.0, 130.0),
    GASTRIC_FOOD: (20.0, 90.0),
}

#: Amplitude (HU, 1 s.d.) of the low-frequency texture added per tissue (organ heterogeneity, mottled stool).
TISSUE_TEXTURE_HU: dict[int, float] = {
    FAT: 6.0, MUSCLE: 4.0, MARROW: 35.0, LUNG: 25.0, LIVER: 3.0, SPLEEN: 4.0, KIDNEY: 6.0,
    FECES: 90.0, GI_FLUID: 3.0, PANCREAS: 8.0, CORTICAL_BONE: 60.0, GI_WALL: 5.0, SOLID_MASS: 14.0, GASTRIC_FOOD: 22.0,
}

#: Image noise (HU, s.d. of the final image noise; slightly spatially correlated).
NOISE_HU = (10.0, 25.0)
#: Gaussian point-spread s.d. in mm in-plane (partial-volume smoothing of edges).
PSF_SIGMA_MM = (0.45, 0.75)

# --- lesions (portal-venous phase) ---------------------------------------------------------------------
#: Simple cyst: water density, homogeneous, no wall, sharp margin.
CYST_HU = (0.0, 18.0)
CYST_EDGE_MM = 0.3
#: Hemangioma: non-enhanced interior (unenhanced hemangioma ~40-55 HU) plus peripheral nodular discontinuous
#: enhancement isoattenuating to the blood pool (aorta) that fills centripetally; small ones may be flash-filling.
HEMANGIOMA_INTERIOR_HU = (35.0, 60.0)
HEMANGIOMA_EDGE_MM = 0.8
#: Metastasis (e.g. colorectal): hypoattenuating soft tissue 40-80 HU, enhancing rim, sometimes necrotic centre.
METASTASIS_CORE_HU = (40.0, 80.0)
METASTASIS_RIM_ABOVE_CORE_HU = (20.0, 50.0)
METASTASIS_NECROSIS_HU = (10.0, 30.0)
METASTASIS_EDGE_MM = (1.5, 3.5)  # ill-defined margin
#: Lesion diameter range (mm).
LESION_DIAMETER_MM = (5.0, 60.0)


def draw_tissue_means(rng: np.random.Generator) -> np.ndarray:
    """One mean HU per tissue id (index = tissue id), drawn from :data:`TISSUE_HU`.

    Contrast timing is shared: an early or late bolus moves liver, spleen, kidneys and vessels together.
    """
    timing = rng.uniform()
    means = np.zeros(len(TISSUE_NAMES), dtype=np.float32)
    for tissue, (low, high) in TISSUE_HU.items():
        jitter = rng.uniform(-0.25, 0.25)
        position = float(np.clip(timing + jitter, 0.0, 1.0)) if tissue in _TIMED else rng.uniform()
        means[tissue] = low + position * (high - low)
    return means


_TIMED = {LIVER, SPLEEN, KIDNEY, AORTA, IVC, PORTAL_VEIN, HEPATIC_VEIN, HEART, PANCREAS, PORTAL_TRUNK}


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """A float drawn uniformly in ``bounds``."""
    return float(rng.uniform(bounds[0], bounds[1]))


#: Tissues that carry the liver label (parenchyma and the intrahepatic vessels).
LIVER_TISSUES = (LIVER, PORTAL_VEIN, HEPATIC_VEIN)
