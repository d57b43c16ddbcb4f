package dev.lora4j.generate;

/**
 * What one generation produced: the text (without end-of-sequence tokens, and short of a stop string),
 * the new token ids as generated, why it ended, and the token counts (OpenAI's usage).
 */
public record Completion(String text, int[] ids, Generator.FinishReason finishReason, int promptTokens) {
    public int completionTokens() {
        return ids.length;
    }
}
