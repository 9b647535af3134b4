package mail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	kiln "github.com/kiln-build/kiln"
)

// SESConfig configures an Amazon SES sender.
type SESConfig struct {
	// Region overrides the region of the standard AWS chain (AWS_REGION,
	// the shared config file, …).
	Region string
	// Endpoint overrides the SES endpoint, e.g. a local SES stand-in.
	Endpoint string
	// From is the From address; its domain or address must be verified
	// in SES.
	From string
}

// SES sends mail with the SES v2 API (aws-sdk-go-v2), credentials from the
// standard AWS chain. SES has no idempotency key, so a message retried
// after an ambiguous failure may arrive twice; every message carries its
// stable id in an X-Kiln-Message-Id header to tell duplicates apart.
type SES struct {
	client *sesv2.Client
	from   string
}

var _ kiln.Mailer = (*SES)(nil)

// NewSES loads the AWS configuration and returns an SES sender. It fails,
// naming the setting, for a bad From or endpoint, or when the AWS
// configuration cannot be loaded.
func NewSES(ctx context.Context, cfg SESConfig) (*SES, error) {
	from, err := parseFrom(cfg.From, "mail.ses.from")
	if err != nil {
		return nil, fmt.Errorf("ses: %w", err)
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("ses: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("ses: no AWS region: set mail.ses.region or AWS_REGION")
	}
	var clientOpts []func(*sesv2.Options)
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("ses: mail.ses.endpoint must be an http(s) URL, got %q", cfg.Endpoint)
		}
		clientOpts = append(clientOpts, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	}
	return &SES{client: sesv2.NewFromConfig(awsCfg, clientOpts...), from: from.String()}, nil
}

// permanentSESCodes are SES errors retrying cannot fix.
var permanentSESCodes = map[string]bool{
	"MessageRejected":                    true,
	"MailFromDomainNotVerifiedException": true,
	"BadRequestException":                true,
	"NotFoundException":                  true,
	"AccountSuspendedException":          true,
}

// Send delivers m with SendEmail. Errors SES answers for a refused
// message or address (MessageRejected, BadRequestException, …) or with a
// 4xx status other than throttling wrap kiln.ErrPermanentMail; throttling,
// 5xx and network errors are temporary.
func (s *SES) Send(ctx context.Context, m *kiln.Mail) error {
	if m == nil {
		return errors.New("ses: nil message")
	}
	msg := &types.Message{
		Subject: &types.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
		Body:    &types.Body{Text: &types.Content{Data: aws.String(m.Text), Charset: aws.String("UTF-8")}},
	}
	if m.HTML != "" {
		msg.Body.Html = &types.Content{Data: aws.String(m.HTML), Charset: aws.String("UTF-8")}
	}
	if m.ID != "" {
		msg.Headers = []types.MessageHeader{{Name: aws.String("X-Kiln-Message-Id"), Value: aws.String(m.ID)}}
	}
	_, err := s.client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(s.from),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content:          &types.EmailContent{Simple: msg},
	})
	if err != nil {
		if isPermanentSES(err) {
			return fmt.Errorf("ses: %w: %w", kiln.ErrPermanentMail, err)
		}
		return fmt.Errorf("ses: %w", err)
	}
	return nil
}

// isPermanentSES classifies an SES error.
func isPermanentSES(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		if permanentSESCodes[api.ErrorCode()] {
			return true
		}
		if strings.Contains(api.ErrorCode(), "Throttl") || api.ErrorCode() == "TooManyRequestsException" ||
			api.ErrorCode() == "LimitExceededException" || api.ErrorCode() == "SendingPausedException" {
			return false
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		code := status.HTTPStatusCode()
		return code >= 400 && code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout &&
			code != http.StatusForbidden && code != http.StatusUnauthorized
	}
	return false
}
