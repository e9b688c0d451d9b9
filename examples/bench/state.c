/* A switch-driven state machine: a tokenizer over the first 1500 bytes of the buffer that
 * counts words, numbers, quoted strings and lines, the shape of a protocol parser. Returns the
 * counts packed into 16-bit fields. */
#include "bench.h"

#define SM_MAX 1500

enum { S_START, S_WORD, S_NUMBER, S_QUOTED, S_ESCAPE, S_CR, S_COMMENT };

BENCH_PROG u64 prog(const u8 *data, u64 len) {
    u32 state = S_START;
    u64 words = 0, numbers = 0, strings = 0, lines = 0;
    for (u32 i = 0; i < SM_MAX; i++) {
        if (i >= len)
            break;
        u32 c = data[i];
        switch (state) {
        case S_START:
            if (c == '"')
                state = S_QUOTED;
            else if (c == '#')
                state = S_COMMENT;
            else if (c == '\r')
                state = S_CR;
            else if (c == '\n')
                lines++;
            else if (c - '0' < 10)
                state = S_NUMBER;
            else if ((c | 0x20) - 'a' < 26)
                state = S_WORD;
            break;
        case S_WORD:
            if ((c | 0x20) - 'a' >= 26 && c - '0' >= 10 && c != '_') {
                words++;
                state = c == '\n' ? (lines++, S_START) : S_START;
            }
            break;
        case S_NUMBER:
            if (c - '0' >= 10) {
                numbers++;
                state = c == '\n' ? (lines++, S_START) : S_START;
            }
            break;
        case S_QUOTED:
            if (c == '\\')
                state = S_ESCAPE;
            else if (c == '"') {
                strings++;
                state = S_START;
            }
            break;
        case S_ESCAPE:
            state = S_QUOTED;
            break;
        case S_CR:
            lines++;
            state = c == '"' ? S_QUOTED : S_START;
            break;
        case S_COMMENT:
            if (c == '\n') {
                lines++;
                state = S_START;
            }
            break;
        }
    }
    return words | (numbers << 16) | (strings << 32) | (lines << 48) | ((u64)state << 60);
}
