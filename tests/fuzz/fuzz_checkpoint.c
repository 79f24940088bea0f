/* A checkpoint's metadata: the model configuration and evaluation flags
 * (src/model/checkpoint.c), and a training history line (src/train/history.c). */
#include "fuzz.h"
#include "agecl/model.h"
#include "agecl/train.h"
#include "train/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *path = fuzz_file("ckpt.safetensors", data, n);
    agecl_model_config cfg;
    unsigned flags;
    if (agecl_model_config_read(path, &cfg) == AGECL_OK &&
        (cfg.input_size < 1 || cfg.stages < 0 || cfg.stages > AGECL_MAX_STAGES))
        abort();
    (void)agecl_checkpoint_eval_flags(path, &flags);
    char *line = fuzz_text(data, n);
    agecl__epoch_record r;
    (void)agecl__record_parse(line, &r);
    free(line);
    return 0;
}
