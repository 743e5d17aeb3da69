/* The leaf helpers in util/: SHA-256 against the FIPS 180-4 test vectors (one block, two
 * blocks, a million bytes fed in uneven pieces), and the hash maps through growth. */
#include "check.h"
#include "util/hash_map.h"
#include "util/sha256.h"
#include <string.h>

static void test_sha256(void) {
    char hex[65];
    Sha256 s;
    sha256_init(&s);
    sha256_update(&s, "abc", 3);
    sha256_hex(&s, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_init(&s);
    sha256_update(&s, two, strlen(two));
    sha256_hex(&s, hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", hex);
    static char a[1000];
    memset(a, 'a', sizeof a);
    sha256_init(&s);
    for (int fed = 0, piece = 1; fed < 1000000; fed += piece, piece = piece % 997 + 1)
        sha256_update(&s, a, (size_t)(fed + piece > 1000000 ? 1000000 - fed : piece));
    sha256_hex(&s, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "a million a's: %s", hex);
    FILE *f = fopen("test_util_abc", "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(sha256_file("test_util_abc", hex) == 0 && !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "file: %s", hex);
    CHECK(sha256_file("test_util_missing", hex) == -1, "a missing file is an error");
    remove("test_util_abc");
}

static void test_maps(void) {
    IdMap ids = {0};
    for (int i = 0; i < 100000; i++) CHECK(id_map_put(&ids, (uint64_t)i * 1000003u + 7, i) == 0, "put %d", i);
    int wrong = 0;
    for (int i = 0; i < 100000; i++) wrong += id_map_get(&ids, (uint64_t)i * 1000003u + 7) != i;
    CHECK(wrong == 0 && ids.n == 100000, "%d of 100000 ids wrong after growth", wrong);
    CHECK(id_map_get(&ids, 8) == -1, "an absent id");
    id_map_put(&ids, 7, 42);
    CHECK(id_map_get(&ids, 7) == 42 && ids.n == 100000, "a put replaces");
    id_map_free(&ids);
    StrMap strs = {0};
    char key[32];
    for (int i = 0; i < 50000; i++) { snprintf(key, sizeof key, "answer %d", i); CHECK(str_map_intern(&strs, key) == i, "intern %d", i); }
    wrong = 0;
    for (int i = 0; i < 50000; i++) { snprintf(key, sizeof key, "answer %d", i); wrong += str_map_intern(&strs, key) != i || str_map_find(&strs, key) != i; }
    CHECK(wrong == 0 && strs.n == 50000, "%d strings renumbered", wrong);
    CHECK(str_map_find(&strs, "answer") == -1 && !strcmp(strs.strings[123], "answer 123"), "absent string; stored copy");
    str_map_free(&strs);
}

int main(void) {
    test_sha256();
    test_maps();
    CHECK_FINISH();
}
