package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.nio.file.Path;

/** Which tokenizer a tokenizer.json describes, built from its content, with its tables read before or not. */
final class TokenizerBuilder {
    private TokenizerBuilder() {}

    /** With {@code cached}, model.vocab and model.merges are those tables and are not read from {@code j}. */
    static Tokenizer build(Path file, JsonNode j, TokenizerCache.Tables cached) {
        if (!j.isObject() || !j.path("model").isObject()) throw new Lora4jException(file + ": not a tokenizer.json (no \"model\" object)");
        BpeVocab.checkDecoder(file, j.get("decoder"));
        String model = j.path("model").path("type").asText("");
        String pre = j.path("pre_tokenizer").path("type").asText("");
        if (model.equals("BPE") && (pre.equals("ByteLevel") || pre.equals("Sequence"))) return ByteLevelBpe.of(file, j, cached);
        if (model.equals("WordPiece")) return WordPiece.of(file, j, cached);
        if (model.equals("Unigram")) return Unigram.of(file, j, cached);
        if (model.equals("BPE") && (pre.isEmpty() && j.path("normalizer").isObject() || pre.equals("Metaspace")
                || pre.equals("Split") && j.path("normalizer").isObject())) return SentencePieceBpe.of(file, j, cached);
        throw new Lora4jException(file + ": tokenizer model '" + model + "' with pre-tokenizer '" + (pre.isEmpty() ? "none" : pre)
                + "' is not supported yet (supported: byte-level BPE, a ByteLevel pre-tokenizer alone or in a Sequence with Split and Digits steps, as GPT-2, Llama 3, Qwen2/3 and DeepSeek V3; SentencePiece-style BPE with a Prepend/Replace normalizer and a Metaspace or Split pre-tokenizer or none, as Llama 2, Mistral and Gemma; WordPiece with BertNormalizer and BertPreTokenizer, as BERT and all-MiniLM; Unigram with a Metaspace pre-tokenizer, as T5, XLM-R and ALBERT)");
    }
}
