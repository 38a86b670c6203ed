#!/usr/bin/python3
"""Reference for the accumulation windows: the sentence loop of the authors'
find_fixations_all_sentences.py::generate_et_heatmaps_for_one_image, literally, without the heatmaps.

  gaze_windows_reference.py READING_DIR MENTIONS_FILE METHOD...

READING_DIR holds timestamps_transcription.csv and transcription.txt; MENTIONS_FILE has one mention per
line, "start end" (character offsets of mapped labels). METHOD is an authors' method string
("1.5s_startofsentence_lastmention", "single_lastmention"; a delay is recognised by its trailing 's').
Prints one line per window: METHOD SENTENCE T0 T1 (repr floats).
"""
import csv
import os
import sys


def windows(words, report, ranges, full_method_name):
    first_part = full_method_name.split('_')[0]
    delayed = first_part.endswith('s') and first_part[:-1].replace('.', '', 1).isdigit()
    time_to_go_back = float(first_part[:-1]) if delayed else None
    start_method = full_method_name.split('_')[1] if delayed else None
    end_method = full_method_name.split('_')[2] if delayed else full_method_name.split('_')[1]
    method = first_part
    sentences_indices = set()
    first_range_sentence = {}
    last_range_sentence = {}
    indices_stop = [index_char for index_char, char in enumerate(report) if char == '.']
    for current_range in ranges:
        current_sentence = None
        for index_sentence, index_stop in enumerate(indices_stop):
            if current_range[0] < index_stop:
                current_sentence = index_sentence
                break
        if current_sentence is None:
            continue  # past the last '.': no sentence (the C code counts these as orphans)
        sentences_indices.add(current_sentence)
        if current_sentence in first_range_sentence.keys():
            if current_range[0] < first_range_sentence[current_sentence]:
                first_range_sentence[current_sentence] = current_range[0]
            if current_range[0] > last_range_sentence[current_sentence]:
                last_range_sentence[current_sentence] = current_range[0]
        else:
            first_range_sentence[current_sentence] = current_range[0]
            last_range_sentence[current_sentence] = current_range[0]
    out = []
    full_sentence = ''
    new_sentence = True
    index_sentence = 0
    first_start_timestamp = 0
    timestamp_start_first_sentence = None
    last_end_timestamp = 0
    first_token = True
    time_start_mention = None
    time_last_mention = None
    for word, ts, te in words:
        if word != '.' and word != ',' and word != ':' and not first_token:
            full_sentence += ' '
        first_token = False
        if new_sentence:
            first_start_timestamp_previous = first_start_timestamp
            last_end_timestamp_previous = last_end_timestamp
            first_start_timestamp = ts
            if timestamp_start_first_sentence is None:
                timestamp_start_first_sentence = first_start_timestamp
            new_sentence = False
        full_sentence += word
        if index_sentence in sentences_indices and len(full_sentence) - len(word) <= first_range_sentence[index_sentence] \
                and len(full_sentence) >= first_range_sentence[index_sentence]:
            time_start_mention = ts
        if index_sentence in sentences_indices and len(full_sentence) - len(word) <= last_range_sentence[index_sentence] \
                and len(full_sentence) >= last_range_sentence[index_sentence]:
            time_last_mention = ts
        if word == '.':
            last_end_timestamp = te
            if index_sentence in sentences_indices:
                if end_method == 'endofsentence':
                    t1 = last_end_timestamp
                elif end_method == 'firstmention':
                    t1 = time_start_mention
                elif end_method == 'lastmention':
                    t1 = time_last_mention
                elif end_method == 'startofsentence':
                    t1 = first_start_timestamp
                if delayed:
                    if start_method == 'startofsentence':
                        f = first_start_timestamp
                    elif start_method == 'endofsentence':
                        f = last_end_timestamp
                    elif start_method == 'mention':
                        f = time_start_mention
                    t0 = max(f - time_to_go_back, first_start_timestamp_previous)
                elif method == 'single':
                    t0 = first_start_timestamp
                elif method == 'double':
                    t0 = first_start_timestamp_previous
                elif method == 'all':
                    t0 = 0
                elif method == 'allsentences':
                    t0 = timestamp_start_first_sentence
                elif method == 'andpause':
                    t0 = last_end_timestamp_previous
                out.append((index_sentence, t0, t1))
            new_sentence = True
            index_sentence += 1
    assert full_sentence == report
    return out


def main():
    d, mfile, methods = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(os.path.join(d, 'timestamps_transcription.csv'), newline='', encoding='utf-8-sig') as f:
        words = [(r['word'], float(r['timestamp_start_word']), float(r['timestamp_end_word'])) for r in csv.DictReader(f)]
    with open(os.path.join(d, 'transcription.txt')) as f:
        report = f.read()
    with open(mfile) as f:
        ranges = [[int(v) for v in line.split()] for line in f if line.strip()]
    for m in methods:
        for s, t0, t1 in windows(words, report, ranges, m):
            print(m, s, repr(float(t0)), repr(float(t1)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
