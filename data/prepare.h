/* Builds the default data sets from installed Debian packages into data_dir/NAME/. */
#ifndef MOEH_DATA_PREPARE_H
#define MOEH_DATA_PREPARE_H
#include <stddef.h>

#define FORTUNES_DIR "/usr/share/games/fortunes"

/* the languages of the multilingual set, NULL-terminated, in the order they are reported */
extern const char *const MULTILINGUAL_LANGS[];

/* name: "english" or "multilingual". source: the package folder to read, NULL for the default.
 * Prints one line of what it wrote. 0, or -1 with a message in err. */
int data_prepare(const char *name, const char *data_dir, const char *source, char *err, size_t errlen);

#endif
