package dev.lora4j.model;

/** One pre-norm transformer block: x += attention(norm1(x)); x += mlp(norm2(x)). */
public record Block(int index, Norm norm1, Attention attention, Norm norm2, Mlp mlp) {}
