package dev.lora4j.generate;

/**
 * Hears a generation's text as it comes. The pieces, put together, are exactly the completion's text:
 * a piece never ends inside a character (a token can end in the middle of a UTF-8 sequence), and text
 * that may turn out to be the start of a stop string is held back until it is known not to be.
 */
@FunctionalInterface
public interface TextListener {
    void onText(String piece);

    TextListener NONE = piece -> {};
}
