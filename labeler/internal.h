/* labeler internals: the compiled rules and the per-report scratch buffers. Not part of the API. */
#ifndef GAZELOC_LABELER_INTERNAL_H
#define GAZELOC_LABELER_INTERNAL_H

#include "labeler/labeler.h"

/* What a phrase is for. The first four belong to a category; the rest are global triggers. */
enum lb_kind {
  LK_MENTION = 0, /* names the finding: "atelecta", "pneumothora" */
  LK_NEUTRAL,     /* names the anatomy, a finding only with a qualifier: "heart size" */
  LK_QUALIFIER,   /* makes a neutral term a finding: "enlarg" */
  LK_UNMENTION,   /* a match of the category overlapping one of these is no mention: "pericardial effusion" */
  LK_PRE_NEG,     /* "no", "without", "free of": negates what follows */
  LK_POST_NEG,    /* "is normal", "has resolved": negates what precedes */
  LK_PRE_UNC,     /* "possible", "cannot exclude" */
  LK_POST_UNC,    /* "is not excluded", "versus" */
  LK_PSEUDO,      /* "no change", "not only": looks like a trigger, is none; it only hides the triggers inside it */
  LK_TERM,        /* "but", "however", ", there": ends a trigger's scope */
  LK_NKINDS
};

#define LB_GAP_MAX 30 /* "..." spans 1..LB_GAP_MAX letters, spaces or hyphens */

enum { LE_LIT = 0, LE_GAP = 1 };
typedef struct lb_elem {
  uint8_t type;
  uint16_t len;
  uint32_t off; /* literal text in rules->pool */
} lb_elem;

typedef struct lb_phrase {
  int kind, category, rule; /* category -1 for triggers; rule = source line id */
  int window;               /* triggers: words allowed between trigger and mention */
  uint8_t anchor_start, anchor_end;
  uint16_t first_len;       /* length of the first literal (the part walked by the trie) */
  int elem0, nelem;         /* the elements after the first literal */
  uint32_t text;            /* the expanded phrase text in the pool (for duplicates and --explain) */
} lb_phrase;

typedef struct lb_edge {
  uint8_t c;
  uint32_t child;
} lb_edge;

typedef struct lb_node {
  uint32_t edge0, out0;
  uint16_t nedge, nout;
} lb_node;

typedef struct lb_category {
  char *name, *code;
  uint32_t paper;
  char **reflacx;
  int nreflacx;
} lb_category;

struct lb_rules {
  char *dir;
  int ncat;
  lb_category cat[LB_MAX_CATEGORIES];
  char **where; /* per rule line: "categories/peff.txt:12: effusion" */
  int nlines, lines_cap;
  lb_phrase *ph;
  int nph, ph_cap;
  lb_elem *elem;
  int nelem, elem_cap;
  char *pool;
  size_t pool_len, pool_cap;
  /* the trie over the first literal of every phrase: root is dense on the raw byte */
  uint32_t root[256];
  lb_node *node;
  int nnode;
  lb_edge *edge;
  uint32_t *out;
  int maxlen; /* the longest text any phrase can match (bounds overlap searches) */
};

/* A phrase found in the cleaned text. */
typedef struct lb_match {
  uint32_t s, e, ph;
} lb_match;

typedef struct lb_token {
  uint32_t s, e;
  int sent;
  int wcum;  /* word tokens before this one */
  uint8_t word, conj; /* a word; "and" / "or" / "nor" */
  char c;    /* the character of a punctuation token */
} lb_token;

typedef struct lb_trig {
  uint32_t s, e; /* clean chars */
  int kind, ph, t0, t1; /* first and last token */
  int sent;
} lb_trig;

typedef struct lb_cand {
  uint32_t s, e; /* clean chars */
  int category, ph, neutral;
} lb_cand;

struct lb_scratch {
  char *t;       /* cleaned text */
  uint32_t *map; /* cleaned char -> original offset */
  int32_t *tok_of; /* cleaned char -> token (-1 for spaces) */
  size_t tcap;
  lb_token *tok;
  int ntok, tokcap;
  lb_match *m;
  int nm, mcap;
  lb_trig *tr;
  int ntr, trcap;
  lb_cand *cd;
  int ncd, cdcap;
  uint32_t *sent_clean; /* pairs of clean start, end per sentence */
  int sccap;
  int32_t *own; /* per cleaned char and class (trigger, terminator): the kept trigger covering it */
  size_t owncap;
  uint8_t *mask; /* per token: [2k] what starts there, [2k+1] what ends there (MASK_TERM, MASK_TRIGGER) */
  int maskcap;
};

/* Grows *p (an array of *cap elements of elsize bytes) to hold at least `need`, doubling. */
int lb_grow(void **p, int *cap, int need, size_t elsize, gz_err *e);

#endif
