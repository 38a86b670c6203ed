/* The paper's labels and the REFLACX / labeler -> paper mapping (method.md section 5, Table 2;
 * src/list_labels.py::translate_et_to_label). */
#include "gaze/gaze.h"

#include <strings.h>

const char *const gz_label_names[GZ_NLABELS] = {
    "Edema",       "Opacity",       "Pneumothorax", "Pleural abnormality", "Lung Lesion",
    "Atelectasis", "Consolidation", "Fracture",     "Cardiomegaly",        "Abnormal Mediastinum Contour"};

const char *const gz_category_names[GZ_NCATEGORIES] = {
    "acute fracture & fracture", "airway wall thickening", "atelectasis", "consolidation",
    "enlarged cardiac silhouette", "enlarged hilum", "groundglass opacity", "hiatal hernia",
    "high lung volume - emphysema & emphysema", "interstitial lung disease & fibrosis", "lung nodule or mass", "mass",
    "nodule", "pleural abnormality", "pleural effusion", "pleural thickening", "pneumothorax", "pulmonary edema",
    "quality issue", "support devices", "wide mediastinum & abnormal mediastinum contour"};

enum { EDEMA = 1u << 0, OPACITY = 1u << 1, PNEUMOTHORAX = 1u << 2, PLEURAL = 1u << 3, LESION = 1u << 4,
       ATELECTASIS = 1u << 5, CONSOLIDATION = 1u << 6, FRACTURE = 1u << 7, CARDIOMEGALY = 1u << 8,
       MEDIASTINUM = 1u << 9 };

/* translate_et_to_label, key by key. */
static const struct {
  const char *name;
  unsigned mask;
} table[] = {
    {"Pulmonary edema", EDEMA | OPACITY},
    {"Pneumothorax", PNEUMOTHORAX},
    {"Pleural abnormality", PLEURAL},
    {"Pleural thickening", PLEURAL},
    {"Pleural effusion", PLEURAL},
    {"Lung nodule or mass", LESION | OPACITY},
    {"Nodule", LESION | OPACITY},
    {"Mass", LESION | OPACITY},
    {"Atelectasis", ATELECTASIS | OPACITY},
    {"Consolidation", CONSOLIDATION | OPACITY},
    {"Acute fracture", FRACTURE},
    {"Fracture", FRACTURE},
    {"Groundglass opacity", OPACITY},
    {"Interstitial lung disease", OPACITY},
    {"Fibrosis", OPACITY},
    {"Enlarged cardiac silhouette", CARDIOMEGALY},
    {"Abnormal mediastinal contour", MEDIASTINUM},
    {"Wide mediastinum", MEDIASTINUM},
    {"wide mediastinum & abnormal mediastinum contour", MEDIASTINUM},
    {"interstitial lung disease & fibrosis", OPACITY},
    {"acute fracture & fracture", FRACTURE},
};

unsigned gz_label_mask_for_name(const char *name) {
  if (!name) return 0;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcasecmp(name, table[i].name)) return table[i].mask;
  return 0;
}

int gz_category_index(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < GZ_NCATEGORIES; i++)
    if (!strcasecmp(name, gz_category_names[i])) return i;
  return -1;
}

unsigned gz_category_mask(int category) {
  if (category < 0 || category >= GZ_NCATEGORIES) return 0;
  return gz_label_mask_for_name(gz_category_names[category]);
}
