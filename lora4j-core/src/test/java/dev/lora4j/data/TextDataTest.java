package dev.lora4j.data;

import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Chat ("messages") data through the chat template, with the loss on assistant turns only, and the tokenized-data cache. */
class TextDataTest {
    @TempDir
    Path tmp;

    /** A model directory with GPT-2's tokenizer and a ChatML template. */
    private Path chatModel() throws IOException {
        Path dir = tmp.resolve("model");
        Files.createDirectories(dir);
        Files.copy(TestPaths.fixture("tokenizers").resolve("gpt2").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"), """
                {"eos_token": "<|endoftext|>", "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\\\n' + message['content'] + '<|im_end|>' + '\\\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\\\n' }}{% endif %}"}
                """);
        return dir;
    }

    /** The text of the tokens that count in the loss. */
    private static String counted(Tokenizer tok, int[] ids, int[] labels) {
        return tok.decode(Arrays.stream(labels).filter(l -> l != Batch.IGNORE).toArray());
    }

    @Test
    void messagesLearnOnlyTheAssistantTurns() throws IOException {
        Path model = chatModel();
        Path data = tmp.resolve("chat.jsonl");
        Files.writeString(data, """
                {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Colour?"}, {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "Red, then green."}]}
                """);
        TextEncoder fmt = TextEncoder.ofModel(model, null);
        TokenDataset ds = TokenDataset.read(data, 50257, false, fmt);
        int[] ids = ds.examples().get(0), labels = ds.labels().get(0);
        assertThat(fmt.tokenizer().decode(ids)).isEqualTo(fmt.chat().render(java.util.List.of(
                new dev.lora4j.tokenizer.ChatTemplate.Message("system", "Be brief."), new dev.lora4j.tokenizer.ChatTemplate.Message("user", "Colour?"),
                new dev.lora4j.tokenizer.ChatTemplate.Message("assistant", "Blue."), new dev.lora4j.tokenizer.ChatTemplate.Message("user", "Another?"),
                new dev.lora4j.tokenizer.ChatTemplate.Message("assistant", "Red, then green.")), false));
        assertThat(counted(fmt.tokenizer(), ids, labels)).isEqualTo("Blue.<|im_end|>\nRed, then green.<|im_end|>\n");
        for (int i = 0; i < ids.length; i++) if (labels[i] != Batch.IGNORE) assertThat(labels[i]).isEqualTo(ids[i]);
    }

    @Test
    void chatErrorsNameTheLine() throws IOException {
        Path model = chatModel();
        Path data = tmp.resolve("bad.jsonl");
        Files.writeString(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n{\"messages\": [{\"role\": \"user\"}]}\n");
        assertThatThrownBy(() -> TokenDataset.read(data, 50257, false, TextEncoder.ofModel(model, null)))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("bad.jsonl:2").hasMessageContaining("\"content\"");
        Files.writeString(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n");
        assertThatThrownBy(() -> TokenDataset.read(data, 50257, false, TextEncoder.ofModel(model, null)))
                .hasMessageContaining("bad.jsonl:1").hasMessageContaining("no assistant turn");
        Files.delete(model.resolve("tokenizer_config.json"));
        Files.writeString(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
        assertThatThrownBy(() -> TokenDataset.read(data, 50257, false, TextEncoder.ofModel(model, null)))
                .hasMessageContaining("need a chat template").hasMessageContaining("--chat-template");
    }

    @Test
    void tokenizedDataIsCachedBesideTheSourceAndRefreshedWhenItChanges() throws IOException {
        Path model = chatModel();
        Path data = tmp.resolve("text.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n{\"prompt\": \"Q: 2+2?\", \"completion\": \" 4\"}\n");
        TextEncoder fmt = TextEncoder.ofModel(model, null);
        TokenDataset first = TokenDataset.read(data, 50257, false, fmt);
        Path cache = TokenCache.pathOf(data);
        assertThat(cache).exists();
        // the cache, not the text, is read now: a cache holding other ids under the same key is believed
        TokenDataset fake = new TokenDataset(data, java.util.List.of(new int[] {1, 2, 3}), java.util.Arrays.asList((int[]) null),
                java.util.Arrays.asList((String) null), 0);
        TokenCache.store(data, TokenCache.key(data, 50257, false, fmt), fake);
        assertThat(TokenDataset.read(data, 50257, false, fmt).examples().get(0)).containsExactly(1, 2, 3);
        // a changed source (or tokenizer, or vocabulary) is tokenized again
        Files.setLastModifiedTime(data, FileTime.fromMillis(Files.getLastModifiedTime(data).toMillis() + 5000));
        TokenDataset again = TokenDataset.read(data, 50257, false, fmt);
        assertThat(again.examples()).hasSize(2);
        for (int i = 0; i < 2; i++) {
            assertThat(again.examples().get(i)).containsExactly(first.examples().get(i));
            assertThat(again.labels().get(i)).isEqualTo(first.labels().get(i));
        }
        assertThat(TokenDataset.read(data, 50300, false, fmt).examples().get(0)).containsExactly(first.examples().get(0));
        // a corrupt cache is ignored, never trusted
        Files.write(cache, new byte[] {1, 2, 3});
        assertThat(TokenDataset.read(data, 50257, false, fmt).examples().get(1)).containsExactly(first.examples().get(1));
    }

    /**
     * As TRL's SFTTrainer builds examples: a text and a completion end with the tokenizer's EOS (GPT-2's
     * 50256 here), counted in the loss, unless already there; without appending, the ids are the bare
     * encoding, under another cache key.
     */
    @Test
    void textsAndCompletionsEndWithEosUnlessTurnedOff() throws IOException {
        Path model = chatModel();
        Path data = tmp.resolve("eos.jsonl");
        Files.writeString(data, "{\"text\": \"hello world\"}\n{\"prompt\": \"Q: 2+2?\", \"completion\": \" 4\"}\n{\"text\": \"done<|endoftext|>\"}\n");
        TextEncoder fmt = TextEncoder.ofModel(model, null);
        assertThat(fmt.eos()).isEqualTo(50256);
        TokenDataset with = TokenDataset.read(data, 50257, false, fmt);
        int[] text = with.examples().get(0), pc = with.examples().get(1), already = with.examples().get(2);
        assertThat(text[text.length - 1]).isEqualTo(50256);
        assertThat(pc[pc.length - 1]).isEqualTo(50256);
        assertThat(with.labels().get(1)[pc.length - 1]).as("the EOS is a target").isEqualTo(50256);
        assertThat(already[already.length - 1]).isEqualTo(50256);
        assertThat(already[already.length - 2]).as("not appended twice").isNotEqualTo(50256);
        TokenDataset without = TokenDataset.read(data, 50257, false, fmt.withAppendEos(false));
        assertThat(without.examples().get(0)).containsExactly(java.util.Arrays.copyOf(text, text.length - 1));
        assertThat(without.examples().get(1)).containsExactly(java.util.Arrays.copyOf(pc, pc.length - 1));
        assertThat(TokenCache.key(data, 50257, false, fmt)).isNotEqualTo(TokenCache.key(data, 50257, false, fmt.withAppendEos(false)));
    }

    /** Examples longer than the sequence length keep their first or last tokens (labels alike) or are left out, and are counted. */
    @Test
    void longExamplesAreCutOrDroppedAsAskedAndCounted() {
        int[] a = {1, 2, 3}, b = {1, 2, 3, 4, 5, 6}, c = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        int[] bl = {-100, -100, 3, 4, 5, 6};
        TokenDataset ds = new TokenDataset(null, java.util.List.of(a, b, c), java.util.Arrays.asList(null, bl, null), java.util.Arrays.asList(null, "x", null), 0);
        assertThat(ds.longerThan(5)).isEqualTo(2);
        assertThat(ds.summary(5)).isEqualTo("3 examples, 19 tokens, 9 target tokens within --seq-len 5, 2 longer than that");
        TokenDataset right = ds.truncated(5, TokenDataset.Truncation.RIGHT), left = ds.truncated(5, TokenDataset.Truncation.LEFT);
        assertThat(right.examples().get(2)).containsExactly(1, 2, 3, 4, 5);
        assertThat(right.labels().get(1)).containsExactly(-100, -100, 3, 4, 5);
        assertThat(left.examples().get(2)).containsExactly(6, 7, 8, 9, 10);
        assertThat(left.labels().get(1)).containsExactly(-100, 3, 4, 5, 6);
        assertThat(left.adapters()).containsExactly(null, "x", null);
        for (TokenDataset.Truncation mode : TokenDataset.Truncation.values())
            assertThat(ds.targetTokens(5, mode)).as("the summary counts what %s leaves", mode).isEqualTo(ds.truncated(5, mode).targetTokens(5));
        TokenDataset drop = ds.truncated(5, TokenDataset.Truncation.DROP);
        assertThat(drop.examples()).hasSize(1);
        assertThat(drop.examples().get(0)).containsExactly(a);
        assertThat(ds.truncated(10, TokenDataset.Truncation.DROP)).isSameAs(ds);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TokenDataset.Truncation.parse("middle")).hasMessageContaining("--truncation");
    }
}
