package dev.lora4j.data;

import dev.lora4j.Lora4jException;
import dev.lora4j.tokenizer.ChatTemplate;
import dev.lora4j.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * How a model turns text into ids: its tokenizer and chat template (either may be missing), its EOS
 * id and whether "text" and "completion" examples end with it, with a fingerprint of all that keys
 * the tokenized-data cache.
 *
 * @param eos       the tokenizer's end-of-sequence id (tokenizer_config.json's eos_token, else config.json's
 *                  eos_token_id, the first if several), or -1 when the model names none
 * @param appendEos end "text" and "completion" examples with eos unless they end with it already (TRL's SFTTrainer)
 * @param files     a digest of the tokenizer and chat template files
 */
public record TextEncoder(Tokenizer tokenizer, ChatTemplate chat, int eos, boolean appendEos, String files) {

    /** No tokenizer: only "input_ids" data can be read. */
    public static final TextEncoder NONE = new TextEncoder(null, null, -1, false, "none");

    /** The same encoder, appending EOS or not. */
    public TextEncoder withAppendEos(boolean append) {
        return new TextEncoder(tokenizer, chat, eos, append, files);
    }

    /** What keys the tokenized-data cache: the files, and whether EOS is appended. */
    public String fingerprint() {
        return appendEos ? files + " +eos" : files;
    }

    /** ids, ending with the EOS id when appendEos and it is not there already. */
    int[] endWithEos(int[] ids) {
        if (!appendEos || eos < 0 || ids.length > 0 && ids[ids.length - 1] == eos) return ids;
        int[] out = java.util.Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = eos;
        return out;
    }

    /** The model directory's tokenizer.json and chat template (chatTemplateFile overrides tokenizer_config.json's); EOS appended. */
    public static TextEncoder ofModel(Path modelDir, Path chatTemplateFile) {
        Tokenizer tok = Tokenizer.ofModel(modelDir);
        ChatTemplate chat = ChatTemplate.ofModel(modelDir, chatTemplateFile);
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            Path tj = modelDir.resolve("tokenizer.json");
            if (Tokenizer.isGguf(modelDir)) { // the vocabulary is in the metadata: the weights (gigabytes) are no part of it
                com.fasterxml.jackson.databind.JsonNode j = Tokenizer.ggufTokenizerJson(modelDir);
                if (j != null) d.update(j.toString().getBytes(StandardCharsets.UTF_8));
            } else if (Files.exists(tj)) d.update(Files.readAllBytes(tj));
            if (chat != null) d.update(chat.fingerprint().getBytes(StandardCharsets.UTF_8));
            return new TextEncoder(tok, chat, eosId(modelDir, tok), true, HexFormat.of().formatHex(d.digest()));
        } catch (IOException e) {
            throw new Lora4jException(modelDir + ": cannot read tokenizer.json: " + e.getMessage());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** tokenizer_config.json's eos_token as the tokenizer encodes it (one id), else config.json's eos_token_id (the first of a list), else -1. */
    private static int eosId(Path modelDir, Tokenizer tok) {
        if (Tokenizer.isGguf(modelDir)) {
            try (var f = dev.lora4j.io.gguf.GgufFile.open(modelDir)) {
                var vocab = dev.lora4j.io.gguf.GgufVocab.read(f);
                return vocab == null ? -1 : vocab.eos();
            }
        }
        Path tc = modelDir.resolve("tokenizer_config.json"), cfg = modelDir.resolve("config.json");
        if (tok != null && Files.isRegularFile(tc)) {
            com.fasterxml.jackson.databind.JsonNode e = dev.lora4j.io.ModelFiles.readJson(tc).path("eos_token");
            String text = e.isTextual() ? e.asText() : e.path("content").isTextual() ? e.path("content").asText() : null;
            if (text != null && !text.isEmpty()) {
                int[] ids = tok.encode(text);
                if (ids.length == 1) return ids[0];
            }
        }
        if (Files.isRegularFile(cfg)) {
            com.fasterxml.jackson.databind.JsonNode e = dev.lora4j.io.ModelFiles.readJson(cfg).path("eos_token_id");
            if (e.isInt()) return e.asInt();
            if (e.isArray() && !e.isEmpty() && e.get(0).isInt()) return e.get(0).asInt();
        }
        return -1;
    }

    /**
     * {ids, labels} of a chat: the template's rendering tokenized once (no post-processor tokens: the
     * template writes its own), the loss on the assistant turns only. An assistant turn's tokens are
     * those between the rendering of the conversation before it (with the generation prompt) and the
     * rendering through it.
     */
    int[][] encodeChat(String where, List<ChatTemplate.Message> messages) {
        if (tokenizer == null) throw new Lora4jException(where + ": \"messages\" need the model's tokenizer.json, and the model directory has none");
        if (chat == null)
            throw new Lora4jException(where + ": \"messages\" need a chat template; the model's tokenizer_config.json has none (give one with --chat-template FILE)");
        String full = chat.render(messages, false);
        int[] ids = tokenizer.encode(full);
        int[] labels = new int[ids.length];
        java.util.Arrays.fill(labels, Batch.IGNORE);
        boolean any = false;
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) continue;
            any = true;
            String before = chat.render(messages.subList(0, i), true), through = chat.render(messages.subList(0, i + 1), false);
            if (!full.startsWith(before) || !full.startsWith(through) || through.length() < before.length())
                throw new Lora4jException(where + ": the chat template does not render the conversation's turns as prefixes of one another,"
                        + " so the assistant's tokens cannot be told apart");
            int from = tokenPrefix(before, ids), to = tokenPrefix(through, ids);
            System.arraycopy(ids, from, labels, from, to - from);
        }
        if (!any) throw new Lora4jException(where + ": the conversation has no assistant turn to learn from");
        return new int[][] {ids, labels};
    }

    /** How many of ids are the tokens of prefix (the longest common run when a merge crosses the boundary). */
    private int tokenPrefix(String prefix, int[] ids) {
        int[] p = tokenizer.encode(prefix);
        int n = 0;
        while (n < p.length && n < ids.length && p[n] == ids[n]) n++;
        return n;
    }
}
