/* The emoji set: real images from Debian's ruby-tanuki-emoji (Noto emoji PNGs) named and
 * grouped by the Unicode emoji-test.txt it ships, turned into the same formats as the scenes
 * set (COCO captions, VQAv2 questions such as "what group is this emoji from?", NLVR2
 * statements about pairs), split 80/10/10 by a hash of the name. Images are composited on a
 * grey background and reduced to 64 x 64 PNGs with stb_image_write. */
#ifndef MOEH_EMOJI_H
#define MOEH_EMOJI_H
#include <stddef.h>

#define EMOJI_GEM_DIR "/usr/share/rubygems-integration/all/gems/tanuki_emoji-0.6.0"

/* source: the gem folder (NULL: EMOJI_GEM_DIR). Writes data_dir/emoji/{train,valid,test}/.
 * Prints what it wrote and the question-only baseline. 0, or -1 with err naming the file. */
int emoji_prepare(const char *data_dir, const char *source, char *err, size_t errlen);

#endif
