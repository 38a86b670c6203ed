/* Checkpoints: round trip, every kind of damaged file, and a file converted from PyTorch. */
#include "nn/nn.h"
#include "testutil.h"

static void write_sample(const char *path, float *w, int64_t *nbt) {
  for (int i = 0; i < 24; i++) w[i] = 0.25f * (float)i - 1.0f;
  *nbt = 7;
  gz_ckpt_entry t[2] = {{.name = "layer1.0.conv1.weight", .dtype = GZ_F32, .ndim = 4, .shape = {2, 3, 2, 2}, .data = w},
                        {.name = "bn1.num_batches_tracked", .dtype = GZ_I64, .ndim = 0, .data = nbt}};
  const char *keys[] = {"step", "config"}, *vals[] = {"42", "{\"lr\": 0.001}"};
  gz_err e = {0};
  ck_assert_msg(gz_ckpt_save(path, t, 2, keys, vals, 2, &e) == 0, "%s", e.msg);
}

START_TEST(round_trip) {
  char *dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/ck.safetensors", dir);
  float w[24];
  int64_t nbt;
  write_sample(path, w, &nbt);
  gz_err e = {0};
  gz_ckpt *c = gz_ckpt_open(path, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  ck_assert_int_eq(gz_ckpt_count(c), 2);
  ck_assert_str_eq(gz_ckpt_entry_at(c, 0)->name, "bn1.num_batches_tracked"); /* name order */
  ck_assert_str_eq(gz_ckpt_meta(c, "step"), "42");
  ck_assert_str_eq(gz_ckpt_meta(c, "config"), "{\"lr\": 0.001}");
  ck_assert_ptr_nonnull(gz_ckpt_meta(c, "gazeloc.checksum"));
  float back[24];
  int64_t shape[4] = {2, 3, 2, 2}, nb = 0;
  ck_assert_int_eq(gz_ckpt_read(c, "layer1.0.conv1.weight", GZ_F32, 4, shape, back, &e), 0);
  ck_assert_int_eq(memcmp(w, back, sizeof w), 0);
  ck_assert_int_eq(gz_ckpt_read(c, "bn1.num_batches_tracked", GZ_I64, 0, NULL, &nb, &e), 0);
  ck_assert_int_eq(nb, 7);
  int64_t wrong[4] = {2, 3, 3, 2};
  ck_assert_int_eq(gz_ckpt_read(c, "layer1.0.conv1.weight", GZ_F32, 4, wrong, back, &e), -1);
  ck_assert_msg(strstr(e.msg, "tensor 'layer1.0.conv1.weight' has shape [2, 3, 2, 2], expected [2, 3, 3, 2]"), "%s", e.msg);
  ck_assert_int_eq(gz_ckpt_read(c, "fc.weight", GZ_F32, 0, NULL, back, &e), -1);
  ck_assert_msg(strstr(e.msg, "no tensor named 'fc.weight'"), "%s", e.msg);
  ck_assert_int_eq(gz_ckpt_read(c, "bn1.num_batches_tracked", GZ_F32, 0, NULL, back, &e), -1);
  ck_assert_msg(strstr(e.msg, "is I64, expected F32"), "%s", e.msg);
  gz_ckpt_close(c);
  tu_rmtree(dir);
}
END_TEST

static char *load_bytes(const char *path, size_t *n) { return gz_read_file(path, n, NULL); }

START_TEST(damaged_files) {
  char *dir = tu_tempdir();
  char path[512], bad[512];
  snprintf(path, sizeof path, "%s/ck.safetensors", dir);
  snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
  float w[24];
  int64_t nbt;
  write_sample(path, w, &nbt);
  size_t n;
  char *good = load_bytes(path, &n);
  gz_err e = {0};
  /* truncated in the data */
  ck_assert_int_eq(gz_write_file_atomic(bad, good, n - 5, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "truncated: tensor 'layer1.0.conv1.weight' ends at byte"), "%s", e.msg);
  /* truncated in the header */
  ck_assert_int_eq(gz_write_file_atomic(bad, good, 20, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "truncated inside the header"), "%s", e.msg);
  /* one flipped bit in the tensor data */
  good[n - 3] ^= 0x10;
  ck_assert_int_eq(gz_write_file_atomic(bad, good, n, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "checksum mismatch"), "%s", e.msg);
  good[n - 3] ^= 0x10;
  /* a damaged header */
  good[8] = '[';
  ck_assert_int_eq(gz_write_file_atomic(bad, good, n, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "header is not a JSON object"), "%s", e.msg);
  /* not a checkpoint at all */
  ck_assert_int_eq(gz_write_file_atomic(bad, "hello", 5, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "not a safetensors file"), "%s", e.msg);
  ck_assert_ptr_null(gz_ckpt_open("/nonexistent.safetensors", &e));
  ck_assert_msg(strstr(e.msg, "cannot open"), "%s", e.msg);
  free(good);
  /* a header whose byte range disagrees with its shape */
  const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
  char raw[256] = {0};
  size_t hl = strlen(hdr);
  raw[0] = (char)hl;
  memcpy(raw + 8, hdr, hl);
  ck_assert_int_eq(gz_write_file_atomic(bad, raw, 8 + hl + 12, &e), 0);
  ck_assert_ptr_null(gz_ckpt_open(bad, &e));
  ck_assert_msg(strstr(e.msg, "tensor 'w': data_offsets [0, 8] do not match shape and dtype (12 bytes)"), "%s", e.msg);
  tu_rmtree(dir);
}
END_TEST

/* A state dict saved by PyTorch (conv + batch norm, so int64 num_batches_tracked too), converted by
 * tools/pth_to_safetensors.py, reads back bit for bit. */
START_TEST(converted_from_pytorch) {
  char *dir = tu_tempdir();
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && %s -c \"import torch; torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), "
           "torch.nn.BatchNorm2d(4)); m(torch.randn(2, 3, 5, 5)); torch.save(m.state_dict(), 'm.pth'); "
           "open('w.bin', 'wb').write(m[0].weight.detach().numpy().tobytes()); "
           "open('rv.bin', 'wb').write(m[1].running_var.numpy().tobytes())\" && %s %s/tools/pth_to_safetensors.py m.pth m.safetensors",
           dir, tu_python(), tu_python(), tu_root());
  ck_assert_msg(system(cmd) == 0, "python failed: %s", cmd);
  char path[600];
  snprintf(path, sizeof path, "%s/m.safetensors", dir);
  gz_err e = {0};
  gz_ckpt *c = gz_ckpt_open(path, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  ck_assert_int_eq(gz_ckpt_count(c), 7); /* 0.weight 0.bias 1.weight 1.bias running_mean running_var num_batches */
  float w[4 * 3 * 3 * 3], ref[4 * 3 * 3 * 3], rv[4], rvref[4];
  int64_t ws[4] = {4, 3, 3, 3}, vs[1] = {4}, nbt = 0;
  ck_assert_int_eq(gz_ckpt_read(c, "0.weight", GZ_F32, 4, ws, w, &e), 0);
  ck_assert_int_eq(gz_ckpt_read(c, "1.running_var", GZ_F32, 1, vs, rv, &e), 0);
  ck_assert_int_eq(gz_ckpt_read(c, "1.num_batches_tracked", GZ_I64, 0, NULL, &nbt, &e), 0);
  ck_assert_int_eq(nbt, 1);
  snprintf(path, sizeof path, "%s/w.bin", dir);
  char *raw = gz_read_file(path, NULL, &e);
  memcpy(ref, raw, sizeof ref);
  free(raw);
  snprintf(path, sizeof path, "%s/rv.bin", dir);
  raw = gz_read_file(path, NULL, &e);
  memcpy(rvref, raw, sizeof rvref);
  free(raw);
  ck_assert_int_eq(memcmp(w, ref, sizeof w), 0);
  ck_assert_int_eq(memcmp(rv, rvref, sizeof rv), 0);
  gz_ckpt_close(c);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_nn_checkpoint(void) {
  Suite *s = suite_create("nn_checkpoint");
  TCase *t = tcase_create("safetensors");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, round_trip);
  tcase_add_test(t, damaged_files);
  tcase_add_test(t, converted_from_pytorch);
  suite_add_tcase(s, t);
  return s;
}
