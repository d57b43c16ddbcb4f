package dev.lora4j;

/**
 * An error the user can act on: bad input, a missing file, a shape that does not fit.
 * The CLI prints its message as one line and exits non-zero; it never prints a stack trace for it.
 * Messages name the file (and the line, tensor or field) and say what was expected.
 */
public class Lora4jException extends RuntimeException {
    public Lora4jException(String message) {
        super(message);
    }

    public Lora4jException(String message, Throwable cause) {
        super(message, cause);
    }
}
