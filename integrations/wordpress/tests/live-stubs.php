<?php
/**
 * Stand-ins for the WordPress functions the plugin's HTTP and block code calls, for live.php: the HTTP
 * API over PHP streams (a real request to the real service), options and transients in memory.
 * Tests only: the plugin never loads this file.
 *
 * @package RelatedHeadlines
 */

const MINUTE_IN_SECONDS = 60;

$GLOBALS['live_options']    = array();
$GLOBALS['live_transients'] = array();
$GLOBALS['live_requests']   = array(); // Each request sent: method, url, whether it carried a key.
$GLOBALS['live_styles']     = array();

/**
 * WordPress's WP_Error, the part the plugin reads.
 */
class WP_Error {

	/**
	 * The message.
	 *
	 * @var string
	 */
	private $message;

	/**
	 * An error.
	 *
	 * @param string $code    Code.
	 * @param string $message Message.
	 */
	public function __construct( $code = '', $message = '' ) {
		$this->message = $message;
	}

	/**
	 * The message.
	 */
	public function get_error_message() {
		return $this->message;
	}
}

/**
 * Whether a value is a WP_Error.
 *
 * @param mixed $thing The value.
 */
function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

/**
 * WordPress's wp_remote_request over PHP's HTTP stream wrapper: method, headers, body, timeout,
 * redirection 0; answers WordPress's response array, or a WP_Error when no answer came.
 *
 * @param string $url  URL.
 * @param array  $args Arguments, as WordPress takes them.
 */
function wp_remote_request( $url, $args = array() ) {
	$headers = '';
	foreach ( isset( $args['headers'] ) ? $args['headers'] : array() as $name => $value ) {
		$headers .= $name . ': ' . $value . "\r\n";
	}
	$GLOBALS['live_requests'][] = array(
		'method'   => $args['method'],
		'url'      => $url,
		'with_key' => isset( $args['headers']['Authorization'] ),
	);
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => $args['method'],
				'header'          => $headers . "Connection: close\r\n",
				'content'         => isset( $args['body'] ) ? $args['body'] : '',
				'timeout'         => (float) $args['timeout'],
				'ignore_errors'   => true, // 4xx and 5xx answers are answers.
				'follow_location' => empty( $args['redirection'] ) ? 0 : 1,
				'user_agent'      => isset( $args['user-agent'] ) ? $args['user-agent'] : 'WordPress',
			),
		)
	);
	$body = @file_get_contents( $url, false, $context ); // phpcs:ignore WordPress.PHP.NoSilencedErrors
	if ( false === $body || empty( $http_response_header ) ) {
		$last = error_get_last();
		return new WP_Error( 'http_request_failed', $last ? $last['message'] : 'no answer' );
	}
	preg_match( '#^HTTP/\S+\s+(\d{3})\s*(.*)$#', $http_response_header[0], $status );
	return array(
		'response' => array(
			'code'    => isset( $status[1] ) ? (int) $status[1] : 0,
			'message' => isset( $status[2] ) ? $status[2] : '',
		),
		'headers'  => $http_response_header,
		'body'     => $body,
	);
}

/**
 * The status code of a response.
 *
 * @param array $response The response.
 */
function wp_remote_retrieve_response_code( $response ) {
	return is_array( $response ) ? $response['response']['code'] : '';
}

/**
 * The body of a response.
 *
 * @param array $response The response.
 */
function wp_remote_retrieve_body( $response ) {
	return is_array( $response ) ? $response['body'] : '';
}

/**
 * An option.
 *
 * @param string $name    Name.
 * @param mixed  $default Default.
 */
function get_option( $name, $default = false ) {
	return array_key_exists( $name, $GLOBALS['live_options'] ) ? $GLOBALS['live_options'][ $name ] : $default;
}

/**
 * A transient (expiry honoured).
 *
 * @param string $name Name.
 */
function get_transient( $name ) {
	$entry = isset( $GLOBALS['live_transients'][ $name ] ) ? $GLOBALS['live_transients'][ $name ] : null;
	return ( null !== $entry && $entry['expires'] > microtime( true ) ) ? $entry['value'] : false;
}

/**
 * Sets a transient.
 *
 * @param string $name    Name.
 * @param mixed  $value   Value.
 * @param int    $seconds Lifetime.
 */
function set_transient( $name, $value, $seconds ) {
	$GLOBALS['live_transients'][ $name ] = array(
		'value'   => $value,
		'expires' => microtime( true ) + $seconds,
	);
	return true;
}

/**
 * Filters: none are added here.
 *
 * @param string $hook  Hook.
 * @param mixed  $value Value.
 */
function apply_filters( $hook, $value ) {
	return $value;
}

/**
 * JSON.
 *
 * @param mixed $value Value.
 */
function wp_json_encode( $value ) {
	return json_encode( $value );
}

/**
 * A non-negative integer.
 *
 * @param mixed $value Value.
 */
function absint( $value ) {
	return abs( (int) $value );
}

/**
 * WordPress's sanitize_text_field, simplified: no tags, no line breaks, trimmed.
 *
 * @param string $text Text.
 */
function sanitize_text_field( $text ) {
	return trim( preg_replace( '/[\r\n\t ]+/', ' ', strip_tags( (string) $text ) ) );
}

/**
 * The site's locale.
 */
function get_locale() {
	return 'en_GB';
}

/**
 * Records an enqueued stylesheet.
 *
 * @param string $handle Handle.
 */
function wp_enqueue_style( $handle ) {
	$GLOBALS['live_styles'][ $handle ] = true;
}
