package dev.lora4j.tokenizer;

import dev.lora4j.Lora4jException;

/**
 * Text for a pre-tokenizer regex that counts the characters the regex engine reads and stops it past a
 * bound proportional to the text: a pattern from a downloaded tokenizer.json that backtracks
 * catastrophically (e.g. {@code ((a+)+)+b}) ends in a clear error instead of running for ever. Ordinary
 * patterns read each character a few times.
 */
final class BoundedText implements CharSequence {
    /** Reads allowed per character of the text, and a floor for short texts. */
    static final long READS_PER_CHAR = 2_000, MIN_READS = 2_000_000;

    private final String text;
    private final String origin;
    private final long limit;
    private long reads;

    BoundedText(String text, String origin) {
        this.text = text;
        this.origin = origin;
        this.limit = Math.max(MIN_READS, READS_PER_CHAR * text.length());
    }

    @Override
    public char charAt(int index) {
        if (++reads > limit)
            throw new Lora4jException(origin + ": the pre-tokenizer's regex read the " + text.length() + "-character text over "
                    + READS_PER_CHAR + " times a character (catastrophic backtracking?); this tokenizer cannot encode it");
        return text.charAt(index);
    }

    @Override
    public int length() {
        return text.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
        return text.substring(start, end);
    }

    @Override
    public String toString() {
        return text;
    }
}
