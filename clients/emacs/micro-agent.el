;;; micro-agent.el --- Micro Agent's language server through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages

;;; Commentary:

;; Micro Agent fixes code until its tests pass.  This connects its language server
;; (`micro-agent lsp') to eglot:
;;
;;   (add-to-list 'load-path "/path/to/micro-agent/clients/emacs")
;;   (require 'micro-agent)
;;   (micro-agent-eglot-setup)   ; Micro Agent becomes eglot's server for `micro-agent-modes'
;;
;; or, to keep your usual server for a language (eglot runs one server per buffer),
;; start it where you want it with M-x micro-agent-start.
;;
;; Failing tests show up as flymake diagnostics; on one, M-x eglot-code-actions
;; offers "Fix with Micro Agent".  Progress and results show in the echo area.
;; M-x micro-agent-fix, micro-agent-escalate, micro-agent-cancel, micro-agent-status.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defgroup micro-agent nil
  "Micro Agent: fix code until its tests pass."
  :group 'tools
  :prefix "micro-agent-")

(defcustom micro-agent-server-command '("micro-agent" "lsp")
  "The command that starts Micro Agent's language server.
An Emacs started from a desktop launcher may not have `micro-agent' on `exec-path': use the
project's venv, e.g. (\"/path/to/project/.venv/bin/micro-agent\" \"lsp\").  The tests then
run in that venv too (or in the one `micro-agent-settings' names as :interpreter)."
  :type '(repeat string))

(defcustom micro-agent-modes
  '(python-mode python-ts-mode typescript-mode typescript-ts-mode tsx-ts-mode
    js-mode js-ts-mode rust-mode rust-ts-mode)
  "Major modes `micro-agent-eglot-setup' hands to Micro Agent's server."
  :type '(repeat symbol))

(defcustom micro-agent-settings nil
  "Settings sent as initializationOptions.microAgent, as a plist.
For example (:models (:artisan \"claude-sonnet-4-5\") :runTestsOnSave t).
eglot answers workspace/configuration from `eglot-workspace-configuration'
instead: put the same plist under :microAgent there to change them per project."
  :type 'plist)

(defvar micro-agent-run-finished-functions nil
  "Functions called with the plist of each microAgent/runFinished notification.")

(defvar micro-agent-last-progress nil
  "The newest progress line of a run, or nil; shown in the mode line.")

(defvar micro-agent-last-finished nil
  "The plist of the newest microAgent/runFinished notification.")

(defclass micro-agent-server (eglot-lsp-server) ()
  :documentation "Micro Agent's language server.")

(cl-defmethod eglot-initialization-options ((_server micro-agent-server))
  (list :microAgent (or micro-agent-settings (make-hash-table))))

(defun micro-agent--progress (line)
  "Show LINE as the run's progress."
  (setq micro-agent-last-progress line)
  (force-mode-line-update t)
  (let ((message-log-max nil))
    (message "%s" line)))

;; eglot 1.9 does not take part in $/progress, so the server reports in log lines.
(cl-defmethod eglot-handle-notification
  ((_server micro-agent-server) (_method (eql window/logMessage)) &key _type message)
  (when (string-prefix-p "Micro Agent" message)
    (micro-agent--progress message)))

(cl-defmethod eglot-handle-notification
  ((_server micro-agent-server) (_method (eql microAgent/runFinished)) &rest params)
  (setq micro-agent-last-finished params
        micro-agent-last-progress nil)
  (force-mode-line-update t)
  (run-hook-with-args 'micro-agent-run-finished-functions params))

(defun micro-agent--uri (&optional file)
  (let ((path (or file (buffer-file-name) (user-error "Micro Agent works on files"))))
    (if (fboundp 'eglot-path-to-uri) (eglot-path-to-uri path) (eglot--path-to-uri path))))

(defun micro-agent--server ()
  (or (cl-find-if (lambda (s) (cl-typep s 'micro-agent-server))
                  (and (eglot-current-server) (list (eglot-current-server))))
      (user-error "Micro Agent's server is not running for this buffer: M-x micro-agent-start")))

(defun micro-agent--execute (command arguments)
  "Send COMMAND with ARGUMENTS (a plist) to the server; its answer comes at once."
  (jsonrpc-request (micro-agent--server) :workspace/executeCommand
                   (list :command command :arguments (vector arguments))))

;;;###autoload
(defun micro-agent-start ()
  "Start Micro Agent's language server for the current buffer."
  (interactive)
  (let* ((project (or (project-current) `(transient . ,default-directory)))
         (language (replace-regexp-in-string "\\(-ts\\)?-mode$" "" (symbol-name major-mode))))
    (eglot (list major-mode) project 'micro-agent-server micro-agent-server-command language)))

;;;###autoload
(defun micro-agent-eglot-setup ()
  "Make Micro Agent eglot's server for `micro-agent-modes'."
  (add-to-list 'eglot-server-programs
               (cons micro-agent-modes (cons 'micro-agent-server micro-agent-server-command)))
  (add-to-list 'mode-line-misc-info
               '(micro-agent-last-progress (" [" micro-agent-last-progress "]"))))

(defun micro-agent-fix ()
  "Fix the current file (a target or a test file) until its tests pass."
  (interactive)
  (let ((answer (micro-agent--execute
                 "microAgent.run" (list :uri (micro-agent--uri) :line (1- (line-number-at-pos))))))
    (message "Micro Agent: fixing in the background (run %s)" (substring (plist-get answer :runId) 0 8))))

(defun micro-agent-escalate ()
  "Make the run on this file go to its next tier now (or start one at the next tier)."
  (interactive)
  (let ((answer (micro-agent--execute "microAgent.escalate" (list :uri (micro-agent--uri)))))
    (message "Micro Agent: %s" (if (eq (plist-get answer :startedNewRun) t)
                                   (format "new run at tier %s" (plist-get answer :tier))
                                 "escalating"))))

(defun micro-agent-cancel ()
  "Cancel the run on this file; nothing is changed."
  (interactive)
  (let ((answer (micro-agent--execute "microAgent.cancel" (list :uri (micro-agent--uri)))))
    (message "Micro Agent: %s" (if (eq (plist-get answer :cancelled) t) "cancelling" "no run on this file"))))

(defun micro-agent-status ()
  "Show the runs in progress and the last finished one."
  (interactive)
  (let* ((answer (micro-agent--execute "microAgent.status" (list :uri (micro-agent--uri))))
         (running (append (plist-get answer :running) nil))
         (last (plist-get answer :lastFinished)))
    (message "%s"
             (string-join
              (append
               (mapcar (lambda (run)
                         (format "Micro Agent: %s: %s iteration %s/%s, $%.4f (%s)"
                                 (plist-get run :target) (plist-get run :tier) (plist-get run :iteration)
                                 (plist-get run :maxIterations) (plist-get run :costUsd) (plist-get run :phase)))
                       running)
               (when (and last (listp last))
                 (list (format "Micro Agent: last run on %s: %s" (plist-get last :target)
                               (plist-get last :message))))
               (unless (or running (listp last)) (list "Micro Agent: no runs yet")))
              "\n"))))

(add-hook 'micro-agent-run-finished-functions
          (lambda (params) (message "%s" (plist-get params :message))))

(provide 'micro-agent)
;;; micro-agent.el ends here
