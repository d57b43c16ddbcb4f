package dev.lora4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;

/**
 * Texts with a class label each, from JSONL: one {"text": TEXT, "label": NAME or INTEGER} a line (blank lines skipped).
 * An integer label is kept as its decimal name, so "label": 3 and "label": "3" are the same class.
 */
public record LabelledTexts(List<String> texts, List<String> labels) {
    public LabelledTexts {
        if (texts.size() != labels.size()) throw new IllegalArgumentException(texts.size() + " texts, " + labels.size() + " labels");
        texts = List.copyOf(texts);
        labels = List.copyOf(labels);
    }

    public static LabelledTexts read(Path file) {
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new Lora4jException(file + ": not readable as UTF-8 text (" + e.getMessage() + ")");
        }
        ObjectMapper json = new ObjectMapper();
        List<String> texts = new ArrayList<>(), labels = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            if (l.isBlank()) continue;
            String where = file + ":" + (i + 1) + ": ";
            JsonNode o;
            try {
                o = json.readTree(l);
            } catch (IOException e) {
                throw new Lora4jException(where + "not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            if (!o.path("text").isTextual()) throw new Lora4jException(where + "expected {\"text\": TEXT, \"label\": NAME or INTEGER}; 'text' is missing or not a string");
            JsonNode label = o.path("label");
            if (label.isTextual() && !label.asText().isEmpty()) labels.add(label.asText());
            else if (label.isIntegralNumber() && label.canConvertToInt() && label.asInt() >= 0) labels.add(Integer.toString(label.asInt()));
            else throw new Lora4jException(where + "'label' must be a non-empty string or a non-negative integer, got " + (label.isMissingNode() ? "nothing" : label.toString()));
            texts.add(o.get("text").asText());
        }
        if (texts.isEmpty()) throw new Lora4jException(file + ": no examples");
        return new LabelledTexts(texts, labels);
    }

    public int size() {
        return texts.size();
    }

    /** The distinct labels in a fixed order: numerically when every label is an integer, else by name. */
    public List<String> classes() {
        boolean numeric = labels.stream().allMatch(s -> s.chars().allMatch(Character::isDigit) && s.length() < 10);
        TreeSet<String> set = new TreeSet<>(numeric ? Comparator.comparingInt(Integer::parseInt) : Comparator.naturalOrder());
        set.addAll(labels);
        return List.copyOf(set);
    }

    /** Each example's label as its index in classes; a label not among them is an error naming the file. */
    public int[] indices(List<String> classes, Path file) {
        int[] y = new int[labels.size()];
        java.util.Map<String, Integer> index = new java.util.HashMap<>();
        for (int i = 0; i < classes.size(); i++) index.put(classes.get(i), i);
        for (int i = 0; i < y.length; i++) {
            Integer k = index.get(labels.get(i));
            if (k == null) throw new Lora4jException(file + ": label '" + labels.get(i) + "' is not one of the classifier's " + classes.size() + " classes " + classes);
            y[i] = k;
        }
        return y;
    }
}
