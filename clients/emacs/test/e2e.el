;;; e2e.el --- headless end-to-end test of clients/emacs with the real server  -*- lexical-binding: t; -*-

;; MICRO_AGENT_TEST_FILE=/repo/tests/test_calc.py emacs --batch -l clients/emacs/test/e2e.el
;; (not -Q: Debian's site-start activates the elpa-eglot package)
;;
;; Opens the failing test file, starts the server with `micro-agent-start', waits for the
;; micro-agent flymake diagnostic (tests on open), runs `eglot-code-actions' on its line (a single
;; quickfix is applied without a menu), answers eglot's "edit a file you have not opened?" prompt
;; with yes, waits for microAgent/runFinished and saves.  Exit status 0 and PASS when all happened.
;; Optional: MICRO_AGENT_LSP_CMD (the server command, space-separated), MICRO_AGENT_TIMEOUT_S.

(let ((dir (or (getenv "MICRO_AGENT_CLIENT_DIR")
               (file-name-directory (directory-file-name (file-name-directory load-file-name))))))
  (add-to-list 'load-path dir))
(require 'micro-agent)
(require 'flymake)

(defvar e2e-timeout (string-to-number (or (getenv "MICRO_AGENT_TIMEOUT_S") "60")))
(defvar e2e-prompts nil)
(defvar e2e-progress nil)

(defun e2e-finish (code message)
  (message "%s %s" (if (= code 0) "PASS" "FAIL") message)
  (kill-emacs code))

(defmacro e2e-wait (what &rest condition)
  "Wait until CONDITION holds, or fail naming WHAT."
  `(let ((deadline (+ (float-time) e2e-timeout)))
     (while (not (progn ,@condition))
       (when (> (float-time) deadline) (e2e-finish 3 (format "timed out waiting for %s" ,what)))
       (accept-process-output nil 0.05))))

(setq eglot-confirm-server-initiated-edits nil
      eglot-sync-connect t
      eglot-autoshutdown t)
(when (getenv "MICRO_AGENT_LSP_CMD")
  (setq micro-agent-server-command (split-string (getenv "MICRO_AGENT_LSP_CMD") " " t)))
;; The user says yes when eglot asks to edit a file that is not open yet (calc.py).
(advice-add 'y-or-n-p :override (lambda (prompt &rest _) (push prompt e2e-prompts) t))
(advice-add 'micro-agent--progress :after (lambda (line) (push line e2e-progress)))

(condition-case err
    (progn
      (find-file (getenv "MICRO_AGENT_TEST_FILE"))
      (python-mode)
      (micro-agent-start)
      (unless (eglot-current-server) (e2e-finish 2 "no server"))
      (message "emacs %s, eglot server %S" emacs-version (eglot--project-nickname (eglot-current-server)))

      ;; 1. tests on open: the failing assertion gets a micro-agent diagnostic
      (let (diagnostic)
        (e2e-wait "a micro-agent diagnostic"
                  (setq diagnostic (car (flymake-diagnostics (point-min) (point-max)))))
        (goto-char (flymake-diagnostic-beg diagnostic))
        (message "diagnostic on line %d: %s" (line-number-at-pos) (flymake-diagnostic-text diagnostic)))

      ;; 2. the code action, as M-x eglot-code-actions does it with kind quickfix
      (eglot-code-actions (line-beginning-position) (line-end-position) "quickfix" t)

      ;; 3. the run finishes and its edit lands in calc.py's buffer
      (e2e-wait "microAgent/runFinished" micro-agent-last-finished)
      (let ((outcome (plist-get micro-agent-last-finished :outcome))
            (target (eglot--uri-to-path (plist-get micro-agent-last-finished :uri))))
        (message "run finished: %s after %s iterations" outcome (plist-get micro-agent-last-finished :iterations))
        (unless (equal outcome "success") (e2e-finish 8 (format "outcome %s" outcome)))
        (e2e-wait "the fix in calc.py's buffer"
                  (let ((buffer (find-buffer-visiting target)))
                    (and buffer (buffer-modified-p buffer))))
        (with-current-buffer (find-buffer-visiting target) (save-buffer))
        (message "progress seen: %S" (reverse e2e-progress))
        (unless (>= (length e2e-progress) 3) (e2e-finish 10 "progress missing"))
        (eglot-shutdown (eglot-current-server))
        (e2e-finish 0 (format "fixed %s" target))))
  (error (e2e-finish 1 (format "error: %S" err))))
