/* pools/classes.c -- the size classes and the spans that hold them.
 *
 * 8 small classes (16..128 B in 16-byte steps), then 4 classes per doubling: 16 medium
 * (160..2048 B) and 20 large (2560..65536 B). Neighbouring classes are at most 25% apart, so
 * rounding up wastes at most 20% of a block (powers of two would waste up to 50%).
 * A span holds one class: one 64 KiB page for small and medium classes; for large classes the
 * fewest pages (<= 7) that hold at least 4 blocks with at most 2% of the span left over.
 * The worst tail waste of any class is 1.6%.
 */
#include "pools/pool.h"

const uint32_t hpP_class_size[HPP_CLASSES] = {
  16, 32, 48, 64, 80, 96, 112, 128,                                          /* small  */
  160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024,               /* medium */
  1280, 1536, 1792, 2048,
  2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, /* large */
  20480, 24576, 28672, 32768, 40960, 49152, 57344, 65536,
};

const uint8_t hpP_class_pages[HPP_CLASSES] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  2, 1, 1, 1, 3, 2, 1, 1, 3, 3, 2, 1, 5, 3, 4, 2, 5, 3, 7, 4,
};

/* Class of a size <= 2048, indexed by ceil(size / 16); size 0 takes the 16-byte class. */
const uint8_t hpP_small_class[HPP_MEDIUM_MAX / HPP_GRANULE + 1] = {
  0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9, 9, 10, 10, 11, 11,
  12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15,
  16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17,
  18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
  20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
  21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21,
  22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22,
  23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23,
};

int hpP_tier_of_class(unsigned cls) {
  if (cls < 8) return HP_TIER_SMALL;
  if (cls < 24) return HP_TIER_MEDIUM;
  return HP_TIER_LARGE;
}
