/* fuzz_image.c - JPEG and PNG decoding (TurboJPEG, libspng, our EXIF reader and orientation),
 * the probe and the pixel limit. An input either decodes or fails with a message; the two
 * option sets (EXIF applied or ignored, strict or tolerant, alpha blended or dropped) must agree
 * on the size up to the orientation's swap. */
#include "image/mt_image_io.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    mt_decode_opts a = mt_decode_opts_default();
    a.max_pixels = 1 << 22; /* bounds memory and time per input */
    mt_decode_opts b = a;
    b.ignore_orientation = 1;
    b.strict = 1;
    b.blend_alpha = 1;
    b.background[0] = 255;

    mt_image_format fmt;
    int pw = 0, ph = 0;
    mt_status probed = mt_image_probe(data, n, "input", &a, &fmt, &pw, &ph);
    mt_image *im = NULL, *raw = NULL;
    mt_status st = mt_image_decode(&im, data, n, "input", &a);
    if (st == MT_OK) {
        /* a decodable image has a header the probe reads, with the same size */
        if (probed != MT_OK || pw != im->width || ph != im->height) abort();
        if (mt_image_decode(&raw, data, n, "input", &b) == MT_OK) {
            int same = raw->width == im->width && raw->height == im->height;
            int swapped = raw->width == im->height && raw->height == im->width;
            if (!same && !swapped) abort();
        }
    }
    mt_image_free(raw);
    mt_image_free(im);
    return 0;
}
