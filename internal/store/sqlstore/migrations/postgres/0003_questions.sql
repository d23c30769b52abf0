-- Security questions for self-service password reset. Only an argon2id hash
-- of each normalized answer is kept; the question's text is copied so a
-- custom question edited or removed later still reads as it was answered.
CREATE TABLE security_answers (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    question_id   TEXT NOT NULL,
    question_text TEXT NOT NULL,
    answer_hash   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, question_id)
);

-- Hashes of each user's recent passwords, so a change can refuse reuse. id
-- orders entries written in the same microsecond.
CREATE TABLE password_history (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, created_at);
