package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;

import java.nio.file.Path;

/**
 * A BERT-family encoder as config.json describes it (BERT; MiniLM, which is BERT-shaped; RoBERTa, which is BERT with
 * other position numbers): absolute positions, token types, post-norm blocks, GELU.
 *
 * @param modelType      bert or roberta
 * @param positionOffset the position-table row of a sequence's first token: 0 for BERT; RoBERTa numbers positions
 *                       after its padding id (transformers' create_position_ids_from_input_ids), so pad_token_id + 1
 * @param pooling how a sentence's vector is made from its tokens' (sentence-transformers' Pooling module);
 *                {@code normalize}: the pooled vector scaled to length 1 (its Normalize module)
 */
public record BertConfig(String modelType, int vocabSize, int dim, int layers, int heads, int hidden, int maxPositions, int typeVocabSize,
                         float layerNormEps, int positionOffset, Pooling pooling, boolean normalize) {

    public enum Pooling { MEAN, CLS }

    public int headDim() {
        return dim / heads;
    }

    public static BertConfig parse(Path file, JsonNode c) {
        String type = c.path("model_type").asText("");
        if (!type.equals("bert") && !type.equals("roberta") && !type.equals("xlm-roberta"))
            throw new Lora4jException(file + ": model_type '" + type + "' is not a BERT-family encoder (expected bert, roberta or xlm-roberta)");
        String act = c.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) throw new Lora4jException(file + ": hidden_act '" + act + "' is not supported (expected gelu)");
        String pos = c.path("position_embedding_type").asText("absolute");
        if (!pos.equals("absolute")) throw new Lora4jException(file + ": position_embedding_type '" + pos + "' is not supported (expected absolute)");
        int dim = positive(file, c, "hidden_size"), heads = positive(file, c, "num_attention_heads");
        if (dim % heads != 0) throw new Lora4jException(file + ": hidden_size " + dim + " is not divisible by num_attention_heads " + heads);
        double eps = c.path("layer_norm_eps").asDouble(1e-12);
        if (!(eps > 0) || !Double.isFinite(eps)) throw new Lora4jException(file + ": layer_norm_eps must be a positive number, got " + c.get("layer_norm_eps"));
        int offset = 0;
        if (!type.equals("bert")) {
            JsonNode pad = c.get("pad_token_id");
            if (pad == null || !pad.canConvertToInt() || pad.asInt() < 0) throw new Lora4jException(file + ": RoBERTa needs pad_token_id (a non-negative integer), got " + pad);
            offset = pad.asInt() + 1;
        }
        int maxPositions = positive(file, c, "max_position_embeddings");
        if (offset >= maxPositions) throw new Lora4jException(file + ": pad_token_id " + (offset - 1) + " leaves no positions of max_position_embeddings " + maxPositions);
        return new BertConfig(type, positive(file, c, "vocab_size"), dim, positive(file, c, "num_hidden_layers"), heads,
                positive(file, c, "intermediate_size"), maxPositions,
                c.hasNonNull("type_vocab_size") ? positive(file, c, "type_vocab_size") : 2, (float) eps, offset, Pooling.MEAN, false);
    }

    /** Positions a sequence can use: the table's rows after the offset. */
    public int maxLength() {
        return maxPositions - positionOffset;
    }

    /** RoBERTa's layout (positions after pad_token_id, the dense classification head); XLM-R is the same network. */
    public boolean roberta() {
        return !modelType.equals("bert");
    }

    /** transformers' class-name prefix for this model type: Bert, Roberta or XLMRoberta. */
    public String classPrefix() {
        return switch (modelType) {
            case "roberta" -> "Roberta";
            case "xlm-roberta" -> "XLMRoberta";
            default -> "Bert";
        };
    }

    public BertConfig withPooling(Pooling p, boolean norm) {
        return new BertConfig(modelType, vocabSize, dim, layers, heads, hidden, maxPositions, typeVocabSize, layerNormEps, positionOffset, p, norm);
    }

    /** config.json as transformers writes a BertModel's. */
    public ObjectNode toJson() {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.putArray("architectures").add(classPrefix() + "Model");
        o.put("model_type", modelType);
        o.put("vocab_size", vocabSize).put("hidden_size", dim).put("num_hidden_layers", layers).put("num_attention_heads", heads);
        o.put("intermediate_size", hidden).put("max_position_embeddings", maxPositions).put("type_vocab_size", typeVocabSize);
        o.put("layer_norm_eps", layerNormEps).put("hidden_act", "gelu").put("position_embedding_type", "absolute");
        o.put("hidden_dropout_prob", 0.1).put("attention_probs_dropout_prob", 0.1).put("pad_token_id", roberta() ? positionOffset - 1 : 0);
        return o;
    }

    private static int positive(Path file, JsonNode c, String name) {
        JsonNode v = c.get(name);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0)
            throw new Lora4jException(file + ": field '" + name + "' must be a positive integer, got " + v);
        return v.asInt();
    }
}
